"""Training details: early stopping that keeps the best weights, class balancing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from headstart.adapt.callbacks import KeepBest
from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits
from headstart.adapt.finetuning import class_weights, loaders


def test_keep_best__stops_after_patience_and_restores_best_weights():
    module = torch.nn.Linear(2, 1)
    cb = KeepBest(patience=2)
    trainer = SimpleNamespace(sanity_checking=False, callback_metrics={}, current_epoch=0, should_stop=False)
    for epoch, acc in enumerate([0.5, 0.7, 0.7, 0.6, 0.65]):
        with torch.no_grad():
            module.weight.fill_(epoch)
        trainer.current_epoch, trainer.callback_metrics = epoch, {"val/acc": torch.tensor(acc)}
        cb.on_validation_end(trainer, module)
        if trainer.should_stop:
            break
    assert epoch == 3  # no better than 0.7 at epochs 2 and 3
    assert cb.best == pytest.approx(0.7) and cb.best_epoch == 2  # ties go to the later epoch
    cb.on_train_end(trainer, module)
    assert torch.all(module.weight == 2)
    restored = KeepBest(patience=2)
    restored.load_state_dict(cb.state_dict())
    assert restored.wait == cb.wait and restored.best_epoch == 2


def imbalanced(fmnist_train) -> LabeledSplits:
    idx = np.concatenate(
        [np.flatnonzero(fmnist_train.labels == 0)[:90], np.flatnonzero(fmnist_train.labels == 1)[:10]]
    )
    train = fmnist_train.subset(idx)
    train.classes = fmnist_train.classes[:2]
    train.labels = train.labels.copy()
    return LabeledSplits(train, train.subset(range(4)), None, train.classes, {})


def test_balance__loss_weights_equalise_the_classes(fmnist_train):
    data = imbalanced(fmnist_train)
    w = class_weights(data)
    counts = torch.tensor([90.0, 10.0])
    torch.testing.assert_close(w * counts, torch.tensor([50.0, 50.0]))


def test_balance__sampler_draws_classes_equally_often(fmnist_train):
    data = imbalanced(fmnist_train)
    cfg = FinetuneConfig(from_="scratch", model="headstart/resnet-mini", data="x", balance="sampler")
    train, _ = loaders(cfg, data, batch_size=50)
    labels = torch.cat([y for _ in range(20) for _, y in train])
    share = (labels == 1).float().mean().item()
    assert 0.4 < share < 0.6  # 10% of the images, half of the draws


def test_recalibrate_norms__eval_features_match_training_features(fmnist_train):
    """lp-ft fits its probe after AdaBN: eval-mode features then equal what training sees."""
    from headstart.adapt.strategies.lp_ft import recalibrate_norms
    from headstart.data.views.ops import to_float
    from headstart.models import create_backbone

    torch.manual_seed(0)
    backbone = create_backbone("headstart/resnet-mini")
    for m in backbone.modules():  # statistics of some other data
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(std=2.0)
            m.running_var.uniform_(0.1, 5.0)
    data = fmnist_train.subset(range(128))
    x = to_float(data.images, 28)
    with torch.no_grad():
        train_mode = backbone.train()(x)
        before = backbone.eval()(x)
        recalibrate_norms(backbone, data, 28, batch_size=128)
        after = backbone.eval()(x)
    assert (before - train_mode).abs().mean() > 0.1
    torch.testing.assert_close(after, train_mode, atol=0.02, rtol=0.02)
    assert backbone.module.stem[1].momentum == 0.1  # restored
