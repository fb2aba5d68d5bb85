"""Callbacks every training run gets: images/s in the progress bar, the online kNN monitor, and
the global RNG state carried through checkpoints."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from headstart.data.imageset import ImageSet
from headstart.eval.features import extract_features
from headstart.eval.knn import knn_accuracy


class Throughput(Callback):
    """Logs images/s (global, all devices) over the last micro-batch; subclasses count other units
    (`TokenThroughput`: real tokens)."""

    key = "img_s"

    def __init__(self, batch_size: int | None = None) -> None:
        self.batch_size = batch_size
        self._t: float | None = None

    def count(self, batch: Any) -> int:
        """Units in this device's batch."""
        return batch[0].shape[0]

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: Any, idx: int) -> None:
        if self._t is None:
            self._t = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, out: Any, batch: Any, idx: int) -> None:
        now = time.perf_counter()
        if self._t is not None and idx > 0:  # the first batch pays one-off costs
            module.log(self.key, self.count(batch) * trainer.world_size / (now - self._t), prog_bar=True,
                       on_step=True, on_epoch=False, rank_zero_only=True)
        self._t = now


class KNNMonitor(Callback):
    """kNN accuracy of the backbone's features every `every` epochs (labels used only to monitor).

    `bank` is a labeled sample of the training data, `query` a held-out labeled split.
    """

    def __init__(self, bank: ImageSet, query: ImageSet, *, k: int, image_size: int, every: int = 1) -> None:
        self.bank, self.query, self.k, self.size, self.every = bank, query, k, image_size, every
        self.history: list[tuple[int, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every == 0 or trainer.global_step >= (trainer.max_steps or 0):
            acc = self.evaluate(module.backbone, module.device)
            self.history.append((trainer.global_step, acc))
            module.log("monitor/knn", acc, prog_bar=True, on_epoch=True, rank_zero_only=True, sync_dist=False)

    @torch.no_grad()
    def evaluate(self, backbone: torch.nn.Module, device: torch.device) -> float:
        was_training = backbone.training
        backbone.eval()
        try:
            fmt = {"size": self.size, "channels": self.bank.channels}
            fb, lb = extract_features(backbone, self.bank.with_format(**fmt), device=device, progress=False)
            fq, lq = extract_features(backbone, self.query.with_format(**fmt), device=device, progress=False)
        finally:
            backbone.train(was_training)
        return knn_accuracy(fb, lb, fq, lq, k=self.k)


class GlobalRNG(Callback):
    """Saves torch's global RNG state (CPU, and CUDA when present) in checkpoints and puts it back
    when a resumed run starts, so dropout, drop-path or masking drawn from it continue exactly
    where the interrupted run stopped. (Augmentations use the method's own seeded generator.)"""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending = state

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self._pending is None:
            return
        torch.set_rng_state(self._pending["cpu"])
        if "cuda" in self._pending and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self._pending["cuda"])
        self._pending = None
