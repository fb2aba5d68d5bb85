"""Classification metrics: accuracy, confusion matrix, per-class accuracy, and a JSON report.

Pure functions over tensors, computed by torchmetrics. `pred` may be class indices `(N,)` or
scores `(N, K)` (argmax is taken). Means and intervals over seeds are in `eval.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_confusion_matrix

from headstart.errors import HeadstartError


def _labels(pred: torch.Tensor) -> torch.Tensor:
    """Scores `(N, K)` -> indices `(N,)`; indices pass through."""
    return pred.argmax(dim=1) if pred.ndim == 2 else pred


def _check(pred: torch.Tensor, target: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Class indices of `pred`, checked against `target` (so torchmetrics' own checks can be skipped:
    they cost 10x the metric on a million predictions)."""
    pred = _labels(pred)
    if pred.shape != target.shape:
        raise HeadstartError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape",
                             fix="pass one prediction per target")
    if pred.numel() == 0:
        raise HeadstartError("no predictions to score", fix="evaluate on a non-empty set")
    low = int(min(pred.min(), target.min()))
    high = int(max(pred.max(), target.max()))
    if low < 0 or (num_classes is not None and high >= num_classes):
        raise HeadstartError(f"class indices from {low} to {high} outside 0..{(num_classes or high + 1) - 1}",
                             fix="pass the number of classes the labels use")
    return pred


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1]."""
    pred = _check(pred, target)
    classes = int(max(pred.max(), target.max())) + 1
    return multiclass_accuracy(pred, target, classes, average="micro", validate_args=False).item()


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`(K, K)` int64 counts; row = true class, column = predicted class (sklearn's layout)."""
    pred = _check(pred, target, num_classes)
    return multiclass_confusion_matrix(pred.cpu(), target.cpu(), num_classes, validate_args=False).long()


def per_class_accuracy(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`(K,)` float recall of each class; NaN for a class absent from `target`."""
    cm = confusion_matrix(pred, target, num_classes)
    support = cm.sum(dim=1)
    return torch.where(support > 0, cm.diagonal() / support.clamp(min=1), torch.nan)


def classification_report(pred: torch.Tensor, target: torch.Tensor, classes: Sequence[str]) -> dict:
    """A JSON-serialisable summary: accuracy, per-class accuracy and support, confusion matrix.

    A class with no samples has accuracy `None` (JSON null), never NaN.
    """
    cm = confusion_matrix(pred, target, len(classes))
    per_class = per_class_accuracy(pred, target, len(classes))
    return {
        "accuracy": accuracy(pred, target),
        "per_class": {c: None if math.isnan(a) else a for c, a in zip(classes, per_class.tolist())},
        "support": dict(zip(classes, cm.sum(dim=1).tolist())),
        "confusion_matrix": cm.tolist(),
    }
