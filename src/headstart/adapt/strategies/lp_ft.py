"""`lp-ft`: linear probe, then full fine-tuning from the probed head at a lower LR.

Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and Underperform
Out-of-Distribution" (arXiv:2202.10054): a random head sends large gradients into the backbone
early on and distorts its features; starting full fine-tuning from a head already fitted on the
frozen features avoids that. The probe here is exact: L2-regularised logistic regression by
L-BFGS on the frozen features, its strength chosen on the validation split
(`headstart.eval.linear.linear_probe`).
"""

from __future__ import annotations

import logging

import torch

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Context, Strategy

log = logging.getLogger("headstart")


class LPFT(Strategy):
    name = "lp-ft"
    base_lr = 3e-4
    scratch_lr = 1e-3

    def prepare(self, model: Classifier, ctx: Context) -> None:
        if not ctx.resumed:  # else the checkpoint holds the probed (and further trained) head
            self.probe_accuracy = init_head_from_probe(model, ctx)


def init_head_from_probe(model: Classifier, ctx: Context) -> float:
    """Set the head to the exact linear probe; returns the probe's validation accuracy."""
    result = probe(model, ctx)
    with torch.no_grad():
        model.head.weight.copy_(result.linear.weight)
        model.head.bias.copy_(result.linear.bias)
    log.info(
        "linear probe: validation accuracy %.1f%% (L2 %.0e)", 100 * result.val_accuracy, result.weight_decay
    )
    return result.val_accuracy


def probe(model: Classifier, ctx: Context):
    """Fit the exact linear probe on frozen features of the train split, chosen on the val split."""
    from headstart.eval.features import extract_features
    from headstart.eval.linear import linear_probe

    def features(data):
        return extract_features(
            model.backbone, data.with_format(size=ctx.image_size, channels=data.channels), progress=False
        )

    was_training = model.backbone.training
    model.backbone.eval()
    try:
        (tr_f, tr_y), (va_f, va_y) = features(ctx.train), features(ctx.val)
    finally:
        model.backbone.train(was_training)
    return linear_probe(tr_f, tr_y, va_f, va_y, num_classes=len(model.classes))
