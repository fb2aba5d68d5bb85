"""`evaluate` (pretraining run: kNN + linear probe; fine-tuned run: accuracy, per class, confusion)
and `predict` (CSV of path, prediction, confidence, top-3), on real Fashion-MNIST images."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from safetensors.torch import load_file

import headstart
from headstart.adapt.head import load_classifier
from headstart.commands.evaluate import format_table
from headstart.errors import HeadstartError
from headstart.run import Run


def test_evaluate__pretraining_run_knn_and_linear_probe(pretrained_run, ft_root):
    before = json.loads((pretrained_run / "results.json").read_text())
    results = headstart.evaluate(run=pretrained_run, data=str(ft_root), progress=False, knn_k=10)
    assert 0.5 < results["knn"] <= 1 and 0.5 < results["linear_probe"] <= 1
    assert results["eval_train"] == 240 and results["eval_test"] == 160
    saved = json.loads((pretrained_run / "results.json").read_text())
    assert saved["knn"] == results["knn"] and saved["method"] == before["method"]  # merged, not replaced
    assert "knn" in format_table(results)


def test_evaluate__finetuned_run_accuracy_per_class_confusion(finetuned_run, ft_root):
    results = headstart.evaluate(run=finetuned_run, data=str(ft_root), progress=False)
    confusion = torch.tensor(results["confusion"])
    assert confusion.shape == (4, 4) and confusion.sum() == 160
    assert results["accuracy"] == pytest.approx(confusion.trace().item() / 160)
    assert results["accuracy"] > 0.5
    per_class = results["per_class"]
    classes = load_classifier(Run(finetuned_run))[0].classes
    assert list(per_class) == classes
    t = classes.index("Trouser")
    assert per_class["Trouser"] == pytest.approx(confusion[t, t].item() / 40)
    saved = json.loads((finetuned_run / "results.json").read_text())
    assert saved["accuracy"] == results["accuracy"] and "trainable_share" in saved
    assert saved["probe_norm_statistics"] in ("start", "adapted")  # which statistics lp-ft's probe kept


def test_finetuned_run__exports_plain_weights_and_classes(finetuned_run):
    model = load_file(str(finetuned_run / "exported" / "model.safetensors"))
    backbone = load_file(str(finetuned_run / "exported" / "backbone.safetensors"))
    assert model["head.weight"].shape == (4, 1024)
    assert backbone.keys() == model.keys() - {"head.weight", "head.bias"}
    classifier, size = load_classifier(Run(finetuned_run))
    assert size == 32  # the pretraining run's side: image folders are read at >= 32 px
    assert classifier.classes == ["Ankle boot", "Sneaker", "T-shirt-top", "Trouser"]


def test_predict__csv_with_top3(finetuned_run, ft_root, tmp_path):
    out = headstart.predict(
        run=finetuned_run, data=str(ft_root / "test"), out=tmp_path / "p.csv", progress=False
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 160 and list(rows[0]) == ["path", "prediction", "confidence", "top3"]
    correct = 0
    for row in rows:
        ranked = [item.rsplit(":", 1) for item in row["top3"].split("|")]
        probs = [float(p) for _, p in ranked]
        assert ranked[0][0] == row["prediction"] and probs == sorted(probs, reverse=True) and len(probs) == 3
        assert float(row["confidence"]) == probs[0]
        correct += row["path"].split("/")[-2] == row["prediction"]
    assert correct / 160 > 0.5


def test_evaluate__not_a_run_is_a_user_error(tmp_path):
    with pytest.raises(HeadstartError, match="not a finished headstart run"):
        headstart.evaluate(run=tmp_path, data="fashion-mnist")
