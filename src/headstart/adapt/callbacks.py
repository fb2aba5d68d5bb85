"""Early stopping on validation accuracy that keeps the best weights (also across --resume)."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


class KeepBest(Callback):
    """Stop after `patience` validations without a better `monitor`; put the best weights back.

    Ties go to the later epoch (more training at the same validation accuracy). The best
    weights and the counter are saved in checkpoints, so a resumed run stops where it would have.
    """

    def __init__(self, patience: int, monitor: str = "val/acc") -> None:
        self.patience, self.monitor = patience, monitor
        self.best = float("-inf")
        self.best_epoch = -1
        self.wait = 0
        self.weights: dict[str, Any] | None = None

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        self.wait = 0 if score > self.best else self.wait + 1
        if score >= self.best:
            self.best, self.best_epoch = score, trainer.current_epoch
            self.weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        if self.wait >= self.patience:
            trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.weights is not None:
            module.load_state_dict(self.weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "weights": self.weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.weights = state["weights"]
