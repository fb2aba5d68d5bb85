"""The study report's bias section from saved test probabilities: which cells, pooled seeds, the page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from headstart.eval.bias import calibration
from headstart.eval.gains import summarize
from headstart.eval.linear import linear_probe
from headstart.report.study import write_report
from headstart.report.study_bias import bias_budget, study_bias
from tests.eval.study_records import study_records

TEST = 1000  # test images of the cells' saved probabilities


def pixel_probs(train, test, n: int, seed: int) -> np.ndarray:
    """Real class probabilities: a logistic regression on the raw pixels of `n` seeded training images."""
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    x = train.images[idx].flatten(1).float() / 255
    y = torch.as_tensor(train.labels[idx.numpy()])
    xt = test.images[:TEST].flatten(1).float() / 255
    model = linear_probe(x, y, x[:20], y[:20], num_classes=10).linear
    with torch.no_grad():
        return model(xt).softmax(dim=1).numpy()


@pytest.fixture(scope="module")
def study(tmp_path_factory, fmnist_train, fmnist_test):
    """The README-shaped records; at 1% each cell saved real probabilities (pretrained/full: 600 training
    images, scratch: 60, lp-ft: 6000, so a choice made on test accuracy would take lp-ft)."""
    root = tmp_path_factory.mktemp("study")
    records = study_records(run_root=str(root))
    sizes = {"scratch/full": 60, "pretrained/full": 600, "pretrained/lp-ft": 6000}
    for r in records:
        curve = f"{r['start']}/{r['strategy']}"
        if r["budget"] == "1%" and curve in sizes:
            Path(r["run"]).mkdir(parents=True)
            r["test_probs"] = str(Path(r["run"]) / "test_probs.npz")
            np.savez_compressed(r["test_probs"], probs=pixel_probs(fmnist_train, fmnist_test, sizes[curve], r["seed"])
                                .astype(np.float16), targets=fmnist_test.labels[:TEST], classes=np.array(fmnist_test.classes))
    return root, summarize(records) | {"cells": records}


def test_bias_budget__one_percent_else_the_fewest_labels(study):
    _, results = study
    assert bias_budget(results["gains"]) == "1%"
    assert bias_budget([g for g in results["gains"] if g["budget"] != "1%"]) == "10/class"


def test_study_bias__validation_chosen_strategy_seeds_pooled(study, fmnist_test):
    _, results = study
    report = study_bias(results)
    assert report["study"]["curve"] == "pretrained/full" and report["study"]["seeds"] == [0, 1, 2]
    assert report["n"] == 3 * TEST
    targets = torch.as_tensor(fmnist_test.labels[:TEST]).repeat(3)
    probs = {c["seed"]: np.load(c["test_probs"])["probs"].astype(np.float32) for c in results["cells"]
             if c.get("test_probs") and c["start"] == "scratch"}
    scratch = torch.from_numpy(np.concatenate([probs[s] for s in range(3)]))
    assert report["baseline"]["calibration"]["ece"] == pytest.approx(calibration(scratch, targets)["ece"])
    # 600 pixel images beat 60 overall, and Shirt is the hardest Fashion-MNIST class for both
    assert report["accuracy"] > report["baseline"]["accuracy"] + 0.05
    assert report["worst_class"] == "Shirt"


def test_study_bias__none_without_saved_probabilities(study):
    _, results = study
    cells = [{k: v for k, v in c.items() if k != "test_probs"} for c in results["cells"]]
    assert study_bias(results | {"cells": cells}) is None


def test_report__bias_section_with_plots_and_figures(study, tmp_path):
    root, results = study
    page = write_report(out=root, results=results, pretrained=tmp_path / "none", title="t", test_data=None)
    text = page.read_text()
    assert "Per class and calibration: from scratch vs pretrained" in text
    assert "pretrained/full (chosen on validation) vs scratch/full, 3 seed(s) pooled" in text
    bias = json.loads((root / "bias.json").read_text())
    assert f"{100 * bias['baseline']['calibration']['ece']:.1f}% from scratch" in text
    for name in ("bias_per_class", "bias_reliability"):
        assert (root / "plots" / f"{name}.png").stat().st_size > 10_000
