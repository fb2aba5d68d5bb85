"""One progress bar over the run's optimizer steps.

Lightning's bars count batches per epoch and show `Epoch 9/-2` for a run bounded by steps
(`max_epochs=-1`). headstart runs are bounded by steps, so the bar is: steps done / total,
elapsed, remaining, and the logged figures (loss, images/s, monitor kNN). A resumed run starts
the bar at its checkpoint's step.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks.progress import ProgressBar


class StepProgressBar(ProgressBar):
    def __init__(self, description: str = "steps") -> None:
        super().__init__()
        self.description = description
        self._enabled = True
        self._progress: Any = None
        self._task: Any = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer, pl_module) -> None:
        if not self._enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[figures]}"),
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.description, total=trainer.max_steps, completed=trainer.global_step, figures=""
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._progress is not None:
            figures = figures_text(self.get_metrics(trainer, pl_module))
            self._progress.update(self._task, completed=trainer.global_step, figures=figures)

    def on_train_end(self, trainer, pl_module) -> None:
        self._stop()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._stop()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self._stop()

    def print(self, *args: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.console.print(*args, **kwargs)
        else:
            print(*args, **kwargs)

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def figures_text(metrics: dict[str, Any]) -> str:
    """`loss 2.365  img_s 611  knn 0.829` from Lightning's progress-bar metrics (per-step values
    preferred over epoch means; the logger version left out)."""
    shown = {}
    for key, value in metrics.items():
        if key == "v_num" or key.endswith("_epoch") or not isinstance(value, (int, float)):
            continue
        name = key.rsplit("/", 1)[-1].removesuffix("_step")
        shown[name] = value
    return "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
