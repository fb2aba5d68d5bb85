"""`linear`: the backbone is frozen (norm layers in eval mode); only the head trains."""

from __future__ import annotations

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Context, Strategy, set_trainable


class Linear(Strategy):
    name = "linear"
    base_lr = 3e-3
    scratch_lr = 3e-3

    def prepare(self, model: Classifier, ctx: Context) -> None:
        set_trainable(list(model.backbone.parameters()), False)
