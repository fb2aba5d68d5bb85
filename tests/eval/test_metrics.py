import json
import math

import pytest
import torch

from headstart.errors import HeadstartError
from headstart.eval.knn import knn_predict
from headstart.eval.metrics import accuracy, classification_report, confusion_matrix, per_class_accuracy

PRED = torch.tensor([0, 0, 1, 2, 2, 2, 1])
TARGET = torch.tensor([0, 1, 1, 2, 2, 0, 1])


def test_accuracy__indices_and_scores():
    assert accuracy(PRED, TARGET) == pytest.approx(5 / 7)
    scores = torch.nn.functional.one_hot(PRED, 3).float() + 0.1
    assert accuracy(scores, TARGET) == pytest.approx(5 / 7)


def test_confusion_matrix__rows_are_true_columns_predicted():
    cm = confusion_matrix(PRED, TARGET, 4)
    expected = torch.tensor([[1, 0, 1, 0], [1, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
    assert cm.dtype == torch.int64 and torch.equal(cm, expected)


def test_per_class_accuracy__absent_class_is_nan():
    acc = per_class_accuracy(PRED, TARGET, 4)
    assert torch.allclose(acc[:3], torch.tensor([0.5, 2 / 3, 1.0]))
    assert math.isnan(acc[3])


def test_classification_report__json_serialisable():
    report = classification_report(PRED, TARGET, ["a", "b", "c", "d"])
    again = json.loads(json.dumps(report, allow_nan=False))
    assert again["accuracy"] == pytest.approx(5 / 7)
    assert again["per_class"] == pytest.approx({"a": 0.5, "b": 2 / 3, "c": 1.0, "d": None})
    assert again["support"] == {"a": 2, "b": 3, "c": 2, "d": 0}
    assert again["confusion_matrix"][1] == [1, 2, 0, 0]


def test_classification_report__fashion_mnist_knn(pixels, fmnist_test):
    train_x, train_y, test_x, test_y = pixels
    pred = knn_predict(train_x[:10000], train_y[:10000], test_x[:2000], num_classes=10).argmax(1)
    report = classification_report(pred, test_y[:2000], fmnist_test.classes)
    cm = torch.tensor(report["confusion_matrix"])
    assert cm.sum() == 2000 and cm.trace() == (pred == test_y[:2000]).sum()
    assert 0.78 < report["accuracy"] < 0.86
    # raw pixels separate trousers easily and confuse shirts with tops, pullovers and coats
    assert report["per_class"]["Trouser"] > 0.9 and report["per_class"]["Shirt"] < 0.7


def test_confusion_matrix__error_index_out_of_range():
    with pytest.raises(HeadstartError, match="from 0 to 2 outside 0..1"):
        confusion_matrix(PRED, TARGET, 2)


def test_accuracy__error_shape_mismatch():
    with pytest.raises(HeadstartError, match="differ in shape"):
        accuracy(PRED, TARGET[:3])
