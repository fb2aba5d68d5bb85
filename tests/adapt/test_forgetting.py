"""Forgetting: kNN accuracy on held-out pretraining data before/after fine-tuning (and blended)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from headstart.eval.forgetting import forgetting, forgetting_sets
from headstart.models.factory import create_backbone, load_run_backbone
from tests.adapt.conftest import finetune_fast


def test_forgetting_sets__named_set_uses_train_bank_and_test_queries():
    bank, query = forgetting_sets("fashion-mnist", bank_size=300, query_size=100)
    assert len(bank) == 300 and len(query) == 100
    assert bank.source.endswith(":train") and query.source.endswith(":test")
    assert np.bincount(query.labels, minlength=10).tolist() == [10] * 10  # stratified


def test_forgetting_sets__folder_without_test_split_is_halved(fmnist_folder):
    bank, query = forgetting_sets(str(fmnist_folder))
    assert len(bank) == len(query) == 160
    assert not set(bank.paths) & set(query.paths)


def test_forgetting_sets__unlabeled_folder_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    from headstart.data import folder
    from headstart.errors import HeadstartError

    for i in range(5):
        Image.fromarray(np.full((32, 32), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    decoded = []
    monkeypatch.setattr(folder, "_decode_all", lambda *a, **k: decoded.append(a) or pytest.fail("decoded"))
    with pytest.raises(HeadstartError, match="has no labels"):
        forgetting_sets(str(tmp_path))
    assert not decoded


def test_forgetting_sets__folder_decodes_only_the_samples(fmnist_folder):
    bank, query = forgetting_sets(str(fmnist_folder), bank_size=40, query_size=20)
    assert bank.images is None and len(bank) == 40 and len(query) == 20  # indexed; decoded when read
    assert bank[0][0].shape[-1] == query[0][0].shape[-1]


def test_forgetting__same_backbone_drops_nothing_random_one_drops(pretrained_run, fmnist_folder):
    bank, query = forgetting_sets(str(fmnist_folder))
    pretrained = load_run_backbone(pretrained_run)
    torch.manual_seed(3)
    noisy = create_backbone("headstart/resnet-mini")
    out = forgetting(pretrained, pretrained, bank, query, image_size=28, k=10, blended=noisy)
    assert out["drop"] == 0 and out["before"] > 0.6
    assert out["blended_drop"] == out["before"] - out["blended"]
    assert {"before", "after", "drop", "k", "bank", "query"} <= out.keys()


def test_forgetting__reported_for_full_and_blended_run(tmp_path, pretrained_run, ft_root):
    finetune_fast(
        tmp_path / "run", from_=str(pretrained_run), data=str(ft_root), strategy="full", blend=0.5, epochs=1
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    f = results["forgetting"]
    assert f["data"] == str(fmnist_folder_of(pretrained_run))
    assert {"before", "after", "drop", "blended", "blended_drop"} <= f.keys()
    assert 0.25 < f["before"] <= 1 and abs(f["drop"] - (f["before"] - f["after"])) < 1e-9
    assert results["blend"] == 0.5


def test_forgetting__absent_from_scratch(tmp_path, ft_root):
    r = finetune_fast(
        tmp_path / "run",
        from_="scratch",
        model="headstart/resnet-mini",
        data=str(ft_root),
        epochs=1,
        test_split=False,
    )
    assert r.forgetting is None and r.accuracy is None
    assert json.loads((tmp_path / "run" / "results.json").read_text())["forgetting"] is None


def fmnist_folder_of(run):
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())["data"]


def test_forgetting__a_frozen_backbone_is_scored_once_and_drops_nothing(tmp_path, pretrained_run, ft_root,
                                                                         monkeypatch):
    import headstart.eval.forgetting as fg

    calls = []
    real = fg.knn_score
    monkeypatch.setattr(fg, "knn_score", lambda *a, **k: calls.append(1) or real(*a, **k))
    finetune_fast(tmp_path / "run", from_=str(pretrained_run), data=str(ft_root), strategy="linear", epochs=1)
    f = json.loads((tmp_path / "run" / "results.json").read_text())["forgetting"]
    assert f["drop"] == 0 and f["before"] == f["after"] > 0.25 and len(calls) == 1
