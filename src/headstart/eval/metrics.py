"""Classification metrics and confidence intervals over repeated runs.

Pure functions over tensors. `pred` may be class indices `(N,)` or scores `(N, K)` (argmax
is taken). `mean_and_ci` gives a Student-t interval for the mean of a few seeds; its t
quantile is computed here (regularized incomplete beta + bisection) so no scipy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from headstart.errors import HeadstartError


def _labels(pred: torch.Tensor) -> torch.Tensor:
    """Scores `(N, K)` -> indices `(N,)`; indices pass through."""
    return pred.argmax(dim=1) if pred.ndim == 2 else pred


def _check(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    pred = _labels(pred)
    if pred.shape != target.shape:
        raise HeadstartError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape",
                             fix="pass one prediction per target")
    if pred.numel() == 0:
        raise HeadstartError("no predictions to score", fix="evaluate on a non-empty set")
    return pred


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1]."""
    pred = _check(pred, target)
    return (pred == target).float().mean().item()


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`(K, K)` int64 counts; row = true class, column = predicted class (sklearn's layout)."""
    pred = _check(pred, target)
    flat = target.long().cpu() * num_classes + pred.long().cpu()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


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


def mean_and_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided Student-t confidence interval of the mean.

    half_width = t_{(1+confidence)/2, n-1} * s / sqrt(n), s the sample standard deviation.
    With one value the interval is undefined and the half-width is NaN.
    """
    n = len(values)
    if n == 0:
        raise HeadstartError("no values to average", fix="pass at least one run's result")
    if not 0.0 < confidence < 1.0:
        raise HeadstartError(f"confidence {confidence} is not in (0, 1)", fix="use e.g. 0.95")
    mean = math.fsum(values) / n
    if n == 1:
        return mean, math.nan
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t_quantile((1.0 + confidence) / 2.0, n - 1) * std / math.sqrt(n)


def t_quantile(p: float, df: float) -> float:
    """Inverse CDF of Student's t with `df` degrees of freedom, by bisection on `t_cdf`."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:  # bracket: the quantile grows fast as df -> 0
        lo, hi = hi, hi * 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t^2), for t >= 0."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by Lentz's continued fraction
    (Numerical Recipes, 3rd ed., section 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _betacf(a: float, b: float, x: float, eps: float = 1e-15, tiny: float = 1e-300) -> float:
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h
