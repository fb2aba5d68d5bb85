"""Per-class and per-group accuracy, gaps, flags and calibration on real Fashion-MNIST predictions:
a nearest-centroid classifier on raw pixels (about 68% accurate, Shirt its worst class)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart.errors import HeadstartError
from headstart.eval.bias import (
    bias_report,
    calibration,
    class_report,
    compare,
    correct,
    gap_interval,
    group_report,
)
from headstart.eval.metrics import per_class_accuracy

# Fashion-MNIST classes grouped by kind: the example groups.csv of the bias command's tests too
KIND = {"T-shirt/top": "tops", "Pullover": "tops", "Dress": "tops", "Coat": "tops", "Shirt": "tops",
        "Trouser": "bottoms", "Sandal": "shoes", "Sneaker": "shoes", "Ankle boot": "shoes", "Bag": "bags"}


def centroid_probs(train_x, train_y, test_x, temperature: float) -> torch.Tensor:
    centres = torch.nn.functional.normalize(torch.stack([train_x[train_y == c].mean(0) for c in range(10)]), dim=1)
    sim = torch.nn.functional.normalize(test_x, dim=1) @ centres.T  # (N, 10) cosine
    return (sim / temperature).softmax(dim=1)


@pytest.fixture(scope="module")
def fm(pixels, fmnist_test):
    train_x, train_y, test_x, test_y = pixels
    probs = centroid_probs(train_x, train_y, test_x, 0.02)
    return probs, test_y, fmnist_test.classes, train_x, train_y, test_x


def test_class_report__accuracy_precision_and_the_worst_class(fm):
    probs, y, classes, *_ = fm
    rows = class_report(probs, y, classes)
    recall = per_class_accuracy(probs, y, 10)
    assert [r["class"] for r in rows] == classes and all(r["support"] == 1000 for r in rows)
    assert np.allclose([r["accuracy"]["mean"] for r in rows], recall.numpy())
    pred = probs.argmax(1)
    for c, r in enumerate(rows):
        assert r["precision"] == pytest.approx(((pred == c) & (y == c)).sum().item() / (pred == c).sum().item())
        assert r["accuracy"]["low"] < r["accuracy"]["mean"] < r["accuracy"]["high"]
    worst = min(rows, key=lambda r: r["accuracy"]["mean"])
    assert worst["class"] == "Shirt" and worst["flagged"] and worst["gap"]["high"] < 0
    assert not next(r for r in rows if r["class"] == "Trouser")["flagged"]


def test_group_report__tops_fall_below_the_rest_and_are_flagged(fm):
    probs, y, classes, *_ = fm
    hit = correct(probs, y)
    kinds = [KIND[classes[c]] for c in y.tolist()]
    rows = group_report(hit, kinds, margin=0.05)
    by = {r["group"]: r for r in rows}
    assert set(by) == {"tops", "bottoms", "shoes", "bags"} and by["tops"]["n"] == 5000
    tops = hit[np.array(kinds) == "tops"].mean() - hit[np.array(kinds) != "tops"].mean()
    assert by["tops"]["gap"]["mean"] == pytest.approx(tops) and tops < -0.05
    assert by["tops"]["flagged"] and rows[0]["group"] == "tops"  # worst first
    assert not by["shoes"]["flagged"] and by["shoes"]["gap"]["low"] < 0 < by["shoes"]["gap"]["high"]
    assert not by["bottoms"]["flagged"] and by["bottoms"]["gap"]["low"] > 0


def test_group_report__unknown_group_rows_are_left_out(fm):
    probs, y, classes, *_ = fm
    hit = correct(probs, y)
    kinds = [KIND[classes[c]] if c != 8 else "" for c in y.tolist()]  # bags: no group given
    assert {r["group"] for r in group_report(hit, kinds)} == {"tops", "bottoms", "shoes"}
    assert sum(r["n"] for r in group_report(hit, kinds)) == 9000


def test_gap_interval__covers_the_gap_and_narrows_with_more_images(fm):
    probs, y, *_ = fm
    hit = correct(probs, y)
    members = (y == 6).numpy()  # Shirt
    wide = gap_interval(hit[::10], members[::10])
    narrow = gap_interval(hit, members)
    assert wide["low"] < wide["mean"] < wide["high"] and narrow["low"] < narrow["mean"] < narrow["high"]
    assert narrow["high"] - narrow["low"] < (wide["high"] - wide["low"]) / 2  # 10x the images: ~1/3 the width
    assert gap_interval(hit, members, seed=1) != narrow and gap_interval(hit, members) == narrow


def test_calibration__ece_matches_the_bins_and_a_sharper_softmax_is_overconfident(fm):
    probs, y, _, train_x, train_y, test_x = fm
    cal = calibration(probs, y, bins=10)
    assert sum(b["count"] for b in cal["bins"]) == len(y)
    conf, hit = probs.max(1).values.numpy(), correct(probs, y)
    manual = sum(abs(hit[m].mean() - conf[m].mean()) * m.sum() for b in range(10)
                 if (m := (np.minimum((conf * 10).astype(int), 9) == b)).any()) / len(y)
    assert cal["ece"] == pytest.approx(manual)
    sharp = calibration(centroid_probs(train_x, train_y, test_x, 0.002), y, bins=10)
    assert sharp["ece"] > cal["ece"] + 0.05  # same predictions, confidences near 1: overconfident


def test_compare__paired_differences_per_class(fm):
    probs, y, classes, train_x, train_y, test_x = fm
    worse = centroid_probs(train_x[:, ::4], train_y, test_x[:, ::4], 0.02)  # a quarter of the pixels
    same = compare(probs, probs, y, classes)
    assert same["overall"]["mean"] == 0 and same["largest_drop"] is None
    diff = compare(probs, worse, y, classes)
    acc = correct(probs, y).mean() - correct(worse, y).mean()
    assert diff["overall"]["mean"] == pytest.approx(acc)
    assert diff["overall"]["low"] < diff["overall"]["mean"] < diff["overall"]["high"]
    back = compare(worse, probs, y, classes)
    assert back["largest_drop"] == max(diff["per_class"], key=lambda r: r["difference"]["mean"])["class"]


def test_bias_report__json_ready_with_groups_and_baseline(fm):
    import json

    probs, y, classes, train_x, train_y, test_x = fm
    kinds = [KIND[classes[c]] for c in y.tolist()]
    worse = centroid_probs(train_x[:, ::4], train_y, test_x[:, ::4], 0.02)
    r = bias_report(probs, y, classes, groups={"kind": kinds}, baseline=worse)
    json.dumps(r)
    assert r["worst_class"] == "Shirt" and r["accuracy"] == pytest.approx(correct(probs, y).mean())
    assert r["groups"]["kind"][0]["group"] == "tops"
    assert r["baseline"]["difference"]["overall"]["mean"] == pytest.approx(r["accuracy"] - r["baseline"]["accuracy"])


def test_bias__mismatched_inputs_are_user_errors(fm):
    probs, y, classes, *_ = fm
    with pytest.raises(HeadstartError, match="do not match"):
        class_report(probs[:10], y[:9], classes)
    with pytest.raises(HeadstartError, match="one group per image"):
        group_report(correct(probs, y), ["a"] * 3)
    with pytest.raises(HeadstartError, match="differ in shape"):
        compare(probs, probs[:, :5], y, classes)
