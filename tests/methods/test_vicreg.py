"""VICReg on real Fashion-MNIST views: invariance tells matching pairs from shuffled ones, the
variance term prices collapse at its configured weight, and training lowers the loss."""

from __future__ import annotations

import torch
from method_helpers import build, fashion_train, fixed_views, train_on


def test_loss__lower_for_matching_views_than_for_shuffled_pairs():
    method = build("vicreg", hidden_dim=512, out_dim=256)
    views = fixed_views(method, fashion_train(64).images)
    with torch.no_grad():
        z0, z1 = method.projection(method.backbone(torch.cat(views))).chunk(2)  # (64, 256) each
        matching = method.criterion(z0, z1).item()
        shuffled = method.criterion(z0, z1.roll(1, dims=0)).item()  # every image paired with another
    assert z0.shape == (64, 256)
    assert matching < shuffled, (matching, shuffled)


def test_loss__collapsed_embeddings_pay_the_variance_term_at_its_weight():
    method = build("vicreg", hidden_dim=64, out_dim=32, var_weight=10.0)
    z = torch.ones(16, 32)  # every image the same embedding: no invariance or covariance cost
    expected = 10.0 * (1 - 1e-4 ** 0.5)  # mean hinge relu(1 - std), std = sqrt(0 + eps)
    assert abs(method.criterion(z, z).item() - expected) < 1e-4


def test_training__a_few_steps_lower_the_loss_on_a_fixed_batch():
    method = build("vicreg", hidden_dim=512, out_dim=256)
    lr = method.cfg.lr * 64 / 256  # the default optimizer (LARS) at its default rate for this batch
    losses = train_on(method, fixed_views(method, fashion_train(64).images), steps=15, lr=lr)
    assert losses[-1] < 0.9 * losses[0], losses
