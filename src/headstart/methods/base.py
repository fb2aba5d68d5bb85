"""`Method`: the base of every pretraining objective.

A method implements `loss(views)` and, when it has them, heads and an EMA teacher; the training
machinery it stands on (views on the device, LR schedule, optimizer, non-finite steps, RNG in
checkpoints, once-per-optimizer-step updates) is `headstart.train.module.TrainingModule`.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from headstart.train.module import Plan, TrainingModule, TrainSettings

__all__ = ["Method", "MethodConfig", "Plan"]


class MethodConfig(TrainSettings):
    """Hyper-parameters every method has; each method subclasses this with its own defaults."""

    lr: float = 1e-3             # per 256 images (scaled linearly with the global batch size)
    weight_decay: float = 1e-4


class Method(TrainingModule):
    """Base of every method; subclasses define `config_cls`, `default_views` and `loss`."""

    config_cls: ClassVar[type[MethodConfig]] = MethodConfig
    default_views: ClassVar[str] = "simclr"
    modality: ClassVar[str] = "image"  # the models it pretrains: "image" or "text" (methods/text.py)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Views (float, on device) -> (loss, extra values to log)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss()")  # abstractmethod

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        images, _ = batch  # labels are never used for pretraining
        loss, extra = self.loss(self.make_views(images))
        if not torch.isfinite(loss):
            return self.nonfinite(loss)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=images.shape[0])
        for key, value in extra.items():
            self.log(f"train/{key}", value, on_step=True, on_epoch=False, batch_size=images.shape[0])
        return loss
