"""`Strategy`: how fine-tuning treats the backbone. A strategy overrides the hooks it needs.

    prepare(model, ctx)        before training: freeze, wrap (LoRA), initialise the head (LP-FT)
    on_epoch_start(model, e)   at each epoch: gradual unfreezing
    finish(model)              after training: merge adapters into plain weights

Norm layers whose parameters are all frozen run in eval mode (their running statistics stay
those of the start weights); `FinetuneModule.train` applies that rule after every mode switch.
A strategy whose `keep_norm_statistics` is true has every norm layer run that way (`lp-ft` when
its probe kept the start statistics). What `prepare` chose once and a resumed run cannot redo is
named in `checkpointed` and travels in the checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.head import Classifier
from headstart.data.imageset import ImageSet


@dataclass
class Context:
    """What a strategy may look at before training."""

    cfg: FinetuneConfig  # resolved
    train: ImageSet  # the labeled training split
    val: ImageSet  # the held-out validation split
    image_size: int
    resumed: bool = False  # weights will come from a checkpoint: skip one-off initialisation
    token_ids: tuple[int, ...] = ()  # a language model's training answers' tokens (lora trains their rows)


class Strategy:
    """Base: every parameter trains (that is `full`)."""

    name: ClassVar[str] = "full"
    base_lr: ClassVar[float] = 1e-3  # AdamW at batch 64 (x sqrt(batch / 64)), pretrained start
    scratch_lr: ClassVar[float] = 2e-3  # the same from random weights

    checkpointed: ClassVar[tuple[str, ...]] = ()  # attributes `prepare` sets that a resumed run restores

    def __init__(self, cfg: FinetuneConfig) -> None:
        self.cfg = cfg

    @property
    def keep_norm_statistics(self) -> bool:
        """True: every norm layer trains on its running statistics (eval mode), frozen or not."""
        return False

    @classmethod
    def default_lr(cls, batch_size: int, scratch: bool) -> float:
        return (cls.scratch_lr if scratch else cls.base_lr) * math.sqrt(batch_size / 64)

    def prepare(self, model: Classifier, ctx: Context) -> None:
        """Set up the model before training (default: nothing; every parameter trains)."""

    def lr_multipliers(self, model: Classifier) -> dict[int, float]:
        """Extra LR factors by parameter id (default: none), on top of the groups' own scales."""
        return {}

    def on_epoch_start(self, model: Classifier, epoch: int) -> None:
        """Called at the start of each training epoch (0-based)."""

    def finish(self, model: Classifier) -> None:
        """Called once after training, before blending and export."""


def set_trainable(params: list[nn.Parameter], trainable: bool) -> None:
    for p in params:
        p.requires_grad_(trainable)


def freeze_frozen_norms(module: nn.Module, every: bool = False) -> None:
    """Put every norm layer whose parameters are all frozen into eval mode (running stats kept);
    with `every`, all norm layers."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase):
            params = list(m.parameters(recurse=False))
            if every or (params and not any(p.requires_grad for p in params)):
                m.eval()


def count_params(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(module.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
