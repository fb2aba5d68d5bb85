import json
import math

import pytest
import torch

from headstart.errors import HeadstartError
from headstart.eval.knn import knn_predict
from headstart.eval.metrics import (accuracy, classification_report, confusion_matrix, mean_and_ci,
                                    per_class_accuracy, t_cdf, t_quantile)

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
    assert report["per_class"]["Trouser"] > 0.9 > 0.7 > report["per_class"]["Shirt"]


@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 4, 2.7764), (0.975, 9, 2.2622),
    (0.975, 30, 2.0423), (0.995, 9, 3.2498), (0.95, 5, 2.0150), (0.975, 10**7, 1.9600),
])
def test_t_quantile__table_values(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-4)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-10)


def test_mean_and_ci__known_values():
    mean, half = mean_and_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0
    assert half == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert mean_and_ci([0.8, 0.8, 0.8]) == (pytest.approx(0.8), pytest.approx(0.0))
    _, half90 = mean_and_ci([1.0, 2.0, 3.0, 4.0, 5.0], confidence=0.9)
    assert half90 < half


def test_mean_and_ci__one_value_has_no_interval():
    mean, half = mean_and_ci([0.7])
    assert mean == 0.7 and math.isnan(half)


def test_mean_and_ci__error_no_values():
    with pytest.raises(HeadstartError, match="no values"):
        mean_and_ci([])


def test_accuracy__error_shape_mismatch():
    with pytest.raises(HeadstartError, match="one prediction per target"):
        accuracy(torch.zeros(3), torch.zeros(4))
