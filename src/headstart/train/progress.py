"""One progress display over the run's optimizer steps.

Lightning's bars count batches per epoch and show `Epoch 9/-2` for a run bounded by steps
(`max_epochs=-1`). headstart runs are bounded by steps, so the bar is: steps done / total,
elapsed, remaining, and the logged figures (loss, images/s, monitor kNN). A resumed run starts
the bar at its checkpoint's step. When the output is not a terminal (a log file, a pipe), a bar
would be control codes and wrapped lines, so a plain line is written instead after the first
step, about every `LOG_EVERY_S` seconds, and at the end:

    step 120/400 (30%)  loss 2.365  img_s 611  elapsed 1m02s  eta 2m25s
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from lightning.pytorch.callbacks.progress import ProgressBar

from headstart.progress import LOG_EVERY_S, PlainLog


class StepProgressBar(ProgressBar):
    def __init__(self, description: str = "steps", *, stream: TextIO | None = None,
                 log_every_s: float = LOG_EVERY_S) -> None:
        super().__init__()
        self.description = description
        self._enabled = True
        self._progress: Any = None
        self._task: Any = None
        self._log: PlainLog | None = None
        self._stream = stream
        self.log_every_s = log_every_s

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer, pl_module) -> None:
        if not self._enabled:
            return
        stream = self._stream or sys.stdout
        if not stream.isatty():
            self._log = PlainLog(stream, trainer.max_steps, trainer.global_step, self.log_every_s)
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
        elif self._log is not None and self._log.due(trainer.global_step):
            self._log.write(trainer.global_step, figures_text(self.get_metrics(trainer, pl_module)))

    def on_train_end(self, trainer, pl_module) -> None:
        if self._log is not None and self._log.last_step != trainer.global_step:
            self._log.write(trainer.global_step, figures_text(self.get_metrics(trainer, pl_module)))
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
        self._log = None
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
