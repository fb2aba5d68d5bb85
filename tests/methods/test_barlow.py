"""Barlow Twins on real Fashion-MNIST views: matching pairs correlate more than shuffled ones,
and training lowers the loss on a fixed batch."""

from __future__ import annotations

import torch
from method_helpers import build, fashion_train, fixed_views, train_on


def test_cross_correlation__matching_views_closer_to_identity_than_shuffled_pairs():
    method = build("barlow", hidden_dim=512, out_dim=256)
    views = fixed_views(method, fashion_train(64).images)
    with torch.no_grad():
        z0, z1 = method.projection(method.backbone(torch.cat(views))).chunk(2)  # (64, 256) each
        matching = method.criterion(z0, z1).item()
        shuffled = method.criterion(z0, z1.roll(1, dims=0)).item()  # every image paired with another
        z0n, z1n = [(z - z.mean(0)) / z.std(0) for z in (z0, z1)]
        diag = (z0n * z1n).mean(0).mean()  # mean per-dimension correlation of the two views
        diag_shuffled = (z0n * z1n.roll(1, dims=0)).mean(0).mean()
    assert z0.shape == (64, 256)
    assert matching < shuffled, (matching, shuffled)
    assert diag > diag_shuffled + 0.05, (diag, diag_shuffled)  # the same image's views agree, untrained (0.10 vs 0.01)


def test_training__a_few_steps_lower_the_loss_on_a_fixed_batch():
    method = build("barlow", hidden_dim=512, out_dim=256)
    lr = method.cfg.lr * 64 / 256  # the default optimizer (LARS) at its default rate for this batch
    losses = train_on(method, fixed_views(method, fashion_train(64).images), steps=6, lr=lr)
    assert losses[-1] < 0.9 * losses[0], losses
