"""Training details: early stopping that keeps the best weights, class balancing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from headstart.adapt.callbacks import KeepBest
from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits
from headstart.commands.finetune import class_weights, loaders


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
    from headstart.models.factory import create_backbone

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


def _probe_context(fmnist_train, n_train=256, n_val=128):
    from headstart.adapt.config import FinetuneConfig
    from headstart.adapt.strategies.base import Context

    cfg = FinetuneConfig(from_="scratch", model="headstart/resnet-mini", data="fashion-mnist")
    train = fmnist_train.subset(range(n_train))
    val = fmnist_train.subset(range(n_train, n_train + n_val))
    return Context(cfg, train, val, 28)


def _corrupted_resnet_mini():
    """resnet-mini whose BatchNorm statistics are those of some far-off data: means so high that
    most units of this data fall below zero and the ReLUs switch them off."""
    from headstart.adapt.head import Classifier
    from headstart.models.factory import create_backbone

    torch.manual_seed(0)
    backbone = create_backbone("headstart/resnet-mini")
    for m in backbone.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(1.0, 4.0)
            m.running_var.uniform_(0.01, 0.1)
    return Classifier(backbone, [str(c) for c in range(10)])


def _start_statistics_probe_better(monkeypatch):
    """Make lp-ft's probe on the start statistics score 0.9 on validation and AdaBN's 0.5 (real fits,
    scores set): the start statistics win. Returns the real `probe`."""
    from headstart.adapt.strategies import lp_ft

    real_probe, scores = lp_ft.probe, iter([0.9, 0.5])  # the start statistics' probe first, then AdaBN's

    def probe(model, ctx):
        result = real_probe(model, ctx)
        result.by_loss, result.val_accuracy = False, next(scores)
        return result

    monkeypatch.setattr(lp_ft, "probe", probe)
    return real_probe


def test_lp_ft_probe__adabn_kept_when_start_statistics_are_wrong(fmnist_train):
    from headstart.adapt.strategies.lp_ft import probe_with_better_norms

    model = _corrupted_resnet_mini()
    corrupted = model.backbone.module.stem[1].running_mean.clone()
    val_accuracy, which = probe_with_better_norms(model, _probe_context(fmnist_train))
    assert which == "adapted"
    assert val_accuracy > 0.6  # 10 classes, 256 labels, random conv features
    assert (model.backbone.module.stem[1].running_mean - corrupted).abs().mean() > 0.5  # re-estimated


def test_lp_ft_probe__start_statistics_restored_when_they_probe_better(fmnist_train, monkeypatch):
    """When AdaBN's probe scores worse on validation, the start statistics and their probe's head are kept."""
    from headstart.adapt.strategies import lp_ft

    model = _corrupted_resnet_mini()
    bn = model.backbone.module.stem[1]
    start_mean, start_var = bn.running_mean.clone(), bn.running_var.clone()
    real_probe = _start_statistics_probe_better(monkeypatch)
    ctx = _probe_context(fmnist_train)
    val_accuracy, which = lp_ft.probe_with_better_norms(model, ctx)
    assert (which, val_accuracy) == ("start", 0.9)
    torch.testing.assert_close(bn.running_mean, start_mean)
    torch.testing.assert_close(bn.running_var, start_var)
    # the head is the probe of the start statistics: refitting on them gives the same weights
    again = real_probe(model, ctx)
    torch.testing.assert_close(model.head.weight, again.linear.weight, atol=1e-4, rtol=1e-3)


def test_lp_ft__kept_start_statistics_hold_through_fine_tuning_and_resume(
    tmp_path, pretrained_run, ft_root, monkeypatch
):
    """When the probe keeps the start statistics, every BatchNorm trains in eval mode: the
    exported running statistics are the start's, after a resume too (the choice is in the checkpoint),
    while the weights themselves are fine-tuned."""
    from safetensors.torch import load_file

    from tests.adapt.conftest import finetune_fast

    _start_statistics_probe_better(monkeypatch)
    out = tmp_path / "lp-ft"

    def run(steps: int, resume: bool = False):
        finetune_fast(out, from_=str(pretrained_run), data=str(ft_root), strategy="lp-ft", steps=steps,
                      resume=resume, test_split=False)

    start = load_file(str(pretrained_run / "exported" / "backbone.safetensors"))
    run(2)
    assert json.loads((out / "results.json").read_text())["probe_norm_statistics"] == "start"
    run(4, resume=True)  # prepare is skipped: "start" comes back from the checkpoint
    tuned = load_file(str(out / "exported" / "backbone.safetensors"))
    stats = [k for k in start if "running_" in k]
    assert stats and all(torch.equal(start[k], tuned[k]) for k in stats)
    weights = [k for k in start if k.endswith(".weight")]
    assert any(not torch.equal(start[k], tuned[k]) for k in weights)
    assert json.loads((out / "results.json").read_text())["probe_norm_statistics"] == "start"


def test_lp_ft__adapted_statistics_train_on_batch_statistics():
    """AdaBN's statistics were fitted to the new data: BatchNorm then trains normally (train mode)."""
    from headstart.adapt.strategies.base import freeze_frozen_norms
    from headstart.adapt.strategies.lp_ft import LPFT, batch_norms
    from headstart.models.factory import create_backbone

    cfg = FinetuneConfig(from_="scratch", model="headstart/resnet-mini", data="fashion-mnist", strategy="lp-ft")
    for kept, expect_training in [("adapted", True), ("none", True), ("start", False)]:
        strategy, backbone = LPFT(cfg), create_backbone("headstart/resnet-mini").train()
        strategy.norm_statistics = kept
        freeze_frozen_norms(backbone, every=strategy.keep_norm_statistics)
        assert {m.training for m in batch_norms(backbone)} == {expect_training}, kept
