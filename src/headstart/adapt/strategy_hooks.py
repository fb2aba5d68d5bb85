"""`StrategyHooks`: what every fine-tuning LightningModule owes its strategy, written once.

The strategy's epoch hook (gradual unfreezing), its frozen-norm rule, its state in checkpoints, and the
optimizer groups (backbone LR multiplier, layer-wise decay). A module names the model the strategy adapts
(`adapted`) and mixes this in before the training base: `class M(StrategyHooks, TrainingModule)`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from headstart.adapt.groups import finetune_param_groups
from headstart.adapt.strategies.base import freeze_frozen_norms


class StrategyHooks:
    """Mixed into a `TrainingModule` that has `strategy`, `backbone`, `plan` and `cfg` (with
    `backbone_lr_mult` and `layer_decay`)."""

    def adapted(self) -> nn.Module:
        """The model (backbone + head) the strategy adapts."""
        raise NotImplementedError(f"{type(self).__name__} must define adapted()")  # abstractmethod

    def on_train_epoch_start(self) -> None:
        self.strategy.on_epoch_start(self.adapted(), self.current_epoch)
        self.train()  # re-applies the frozen-norm rule to groups the strategy (un)froze

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            freeze_frozen_norms(self.backbone, every=self.strategy.keep_norm_statistics)
        return self

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["headstart_strategy"] = {
            k: getattr(self.strategy, k) for k in self.strategy.checkpointed if hasattr(self.strategy, k)
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        for k, v in checkpoint.get("headstart_strategy", {}).items():
            setattr(self.strategy, k, v)

    def param_groups(self) -> list[dict]:
        return finetune_param_groups(self.adapted(), weight_decay=self.plan.weight_decay,
                                     backbone_lr_mult=self.cfg.backbone_lr_mult, layer_decay=self.cfg.layer_decay,
                                     multipliers=self.strategy.lr_multipliers(self.adapted()))
