from __future__ import annotations

import pytest
import torch

from headstart.eval.dense import confusion, detection_map, iou_report

A, B = [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 40.0]


def det(boxes, scores, labels):
    return {"boxes": torch.tensor(boxes).reshape(-1, 4), "scores": torch.tensor(scores, dtype=torch.float32),
            "labels": torch.tensor(labels, dtype=torch.long)}


def gt(boxes, labels):
    return {"boxes": torch.tensor(boxes).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.long)}


def test_detection_map__perfect_is_one_and_absent_class_is_none():
    out = detection_map([det([A, B], [0.9, 0.8], [0, 1])], [gt([A, B], [0, 1])], ["a", "b", "c"])
    assert out["map50"] == pytest.approx(1.0) and out["map"] == pytest.approx(1.0)
    assert out["per_class"]["c"] == {"ap50": None, "ap": None} and out["per_class"]["b"]["ap"] == pytest.approx(1.0)


def test_detection_map__one_miss_halves_recall():
    # 2 objects, 1 found: precision 1 up to recall 0.5, then nothing -> 51 of 101 recall points
    out = detection_map([det([A], [0.9], [0]), det([], [], [])], [gt([A], [0]), gt([B], [0])], ["a"])
    assert out["map50"] == pytest.approx(51 / 101, abs=1e-4)


def test_detection_map__false_positive_counts_only_above_the_hit():
    above = detection_map([det([B, A], [0.9, 0.8], [0, 0])], [gt([A], [0])], ["a"])
    below = detection_map([det([A, B], [0.9, 0.8], [0, 0])], [gt([A], [0])], ["a"])
    assert above["map50"] == pytest.approx(0.5, abs=1e-4)  # precision 1/2 at every recall level
    assert below["map50"] == pytest.approx(1.0)


def test_detection_map__iou_072_counts_at_five_of_ten_thresholds():
    out = detection_map([det([[0.0, 0.0, 100.0, 72.0]], [0.9], [0])], [gt([[0.0, 0.0, 100.0, 100.0]], [0])], ["a"])
    assert out["map50"] == pytest.approx(1.0) and out["map"] == pytest.approx(0.5)  # 0.50 .. 0.70 of 0.50 .. 0.95
    assert out["per_class"]["a"] == {"ap50": pytest.approx(1.0), "ap": pytest.approx(0.5)}


def test_detection_map__wrong_class_is_a_miss_and_no_ground_truth_is_none():
    out = detection_map([det([A], [0.9], [1])], [gt([A], [0])], ["a", "b"])
    assert out["map50"] == pytest.approx(0.0) and out["per_class"]["b"]["ap50"] is None
    assert detection_map([det([A], [0.9], [0])], [gt([], [])], ["a"])["map50"] is None


def test_iou_report__hand_computed():
    true = torch.tensor([[0, 0, 1, 1], [0, 2, 2, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 2, 0, 2]])
    m = confusion(pred, true, 3)  # the 255 pixel is not counted
    assert m.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 1]]
    out = iou_report(m, ["bg", "x", "y"])
    # bg: 2 / (3 + 3 - 2); x: 2 / (2 + 3 - 2); y: 1 / (2 + 1 - 1)
    assert out["per_class_iou"] == pytest.approx({"bg": 0.5, "x": 2 / 3, "y": 0.5})
    assert out["miou"] == pytest.approx((0.5 + 2 / 3 + 0.5) / 3) and out["pixel_accuracy"] == pytest.approx(5 / 7)


def test_iou_report__class_never_seen_is_none_and_left_out_of_the_mean():
    out = iou_report(confusion(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), 2), ["bg", "x"])
    assert out["per_class_iou"] == {"bg": 1.0, "x": None} and out["miou"] == 1.0
