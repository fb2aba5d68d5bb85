"""`checkpoints/last.ckpt` by wall time as well as by epoch, so a run of hours loses little when killed.

A run's checkpoint is written every `--checkpoint-every` of training (`10m` by default; `30s`, `1h`,
or `1000steps` for a step count; `off`: only the next two), at epoch ends, and when training ends.
An epoch of a large folder at 224 px on a CPU lasts hours, so epochs alone are not enough; an epoch
of a small data set lasts seconds, and a checkpoint (weights and optimizer state) at each would cost
a noticeable share of the run, so an epoch end writes one only `EPOCH_MIN_GAP_S` after the last.
Each write goes through the trainer's checkpoint IO, which is atomic (`AtomicCheckpointIO`). The
time since the last write is rank 0's and broadcast, so every rank saves at the same step.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from headstart.errors import HeadstartError

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
EPOCH_MIN_GAP_S = 60.0


def parse_every(text: str) -> tuple[float | None, int | None]:
    """`10m` -> (600.0, None); `1000steps` -> (None, 1000); `off` -> (None, None)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)|(\d+)steps|off", text.strip())
    if m is None:
        raise HeadstartError(f"--checkpoint-every {text!r} is not a duration or a step count",
                             fix="write e.g. 10m, 30s, 1h or 1000steps (or off)")
    if m.group(3):
        return None, max(1, int(m.group(3)))
    if m.group(1):
        return float(m.group(1)) * UNIT_SECONDS[m.group(2)], None
    return None, None


class RunCheckpoint(ModelCheckpoint):
    """`last.ckpt` in `dirpath` at epoch ends, at the end, and every `every` (see `parse_every`)."""

    CHECKPOINT_NAME_LAST = "last"

    def __init__(self, dirpath: Path, *, every: str) -> None:
        super().__init__(dirpath=dirpath, filename="last", save_top_k=0, save_last=True,
                         enable_version_counter=False)  # always last.ckpt, also in a moved or copied run folder
        self.seconds, self.steps = parse_every(every)
        self._since = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        super().on_train_start(trainer, module)
        self._since = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches:  # mid-accumulation: not a whole step yet
            return
        by_steps = self.steps is not None and trainer.global_step % self.steps == 0
        if by_steps or (self.seconds is not None and self._waited(trainer, self.seconds)):
            self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self._waited(trainer, EPOCH_MIN_GAP_S):
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._save(trainer)

    def _waited(self, trainer: L.Trainer, seconds: float) -> bool:
        return bool(trainer.strategy.broadcast(time.monotonic() - self._since >= seconds))

    def _save(self, trainer: L.Trainer) -> None:
        if not self._should_skip_saving_checkpoint(trainer):  # skips a step already saved
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        self._since = time.monotonic()
