"""`--resume`: continue a run from its checkpoint, or start it when it has none, with its own settings.

The pre-emption idiom is to re-run the same command with `--resume` until it finishes, so:
- a run with a checkpoint continues from it;
- a folder without one (empty, or a run killed before its first checkpoint) starts the run;
- the run's saved `config.yaml` is its settings: options not given come from it, one given again
  must agree with it, a larger `--steps`/`--epochs` extends the run (`config.resumed`);
- a run that already reached its last step says so, and the command returns its results.
Each case is said in one line on rank 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml

from headstart.config import Config, resumed
from headstart.errors import HeadstartError
from headstart.run import Run
from headstart.train.distributed import is_rank_zero
from headstart.train.trainer import checkpoint_step

C = TypeVar("C", bound=Config)


def resume_or_start(run: Run, cfg: C, *, product: Path) -> tuple[C, int | None, bool]:
    """The settings to run with, the checkpoint's step, and whether the run is finished (it reached
    its steps and wrote `product`, its export). `cfg.resume` becomes False (and the step None) when
    there is nothing to continue, so the command starts the run."""
    if not getattr(cfg, "resume", False):
        return cfg, None, False
    if run.config_file.is_file():
        cfg = resumed(cfg, saved_config(run), where=run.path)
    step = checkpoint_step(run.last_checkpoint) if run.last_checkpoint.is_file() else None
    if step is None:
        _say(f"nothing to resume in {run.path} (no checkpoint yet): starting the run")
        return cfg.model_copy(update={"resume": False}), None, False
    total = getattr(cfg, "steps", None)
    if total and step >= total and product.is_file():
        _say(f"{run.path} is finished (step {step} of {total}): nothing to do; pass a larger --steps to train on")
        return cfg, step, True
    _say(f"resuming {run.path} at step {step}" + (f" of {total}" if total else ""))
    return cfg, step, False


def saved_config(run: Run) -> dict:
    """The run's config.yaml as written (resolved values)."""
    try:
        saved = yaml.safe_load(run.config_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise HeadstartError(f"cannot read config {run.config_file}: {' '.join(str(err).split())}",
                             fix="start the run over with --overwrite, or pass another --out") from None
    if not isinstance(saved, dict):
        raise HeadstartError(f"cannot read config {run.config_file}: not KEY: VALUE lines",
                             fix="start the run over with --overwrite, or pass another --out")
    return saved


def _say(text: str) -> None:
    if is_rank_zero():
        print(text, flush=True)
