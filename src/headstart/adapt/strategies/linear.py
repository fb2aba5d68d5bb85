"""`linear`: the backbone is frozen (norm layers in eval mode); only the head trains.

The head starts from the exact linear probe on frozen features (as `lp-ft` does), then keeps
training on augmented views, so even a short run is at least as good as the probe.
"""

from __future__ import annotations

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Context, Strategy, set_trainable
from headstart.adapt.strategies.lp_ft import init_head_from_probe


class Linear(Strategy):
    name = "linear"
    base_lr = 1e-3
    scratch_lr = 1e-3
    checkpointed = ("probe_accuracy",)

    def prepare(self, model: Classifier, ctx: Context) -> None:
        set_trainable(list(model.backbone.parameters()), False)
        if not ctx.resumed:
            self.probe_accuracy = init_head_from_probe(model, ctx)
