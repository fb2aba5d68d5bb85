"""Means with Student-t confidence intervals, for one arm and for paired differences.

The study's cells are paired: a from-scratch cell and a pretrained cell of the same budget and
seed train on the same labeled subset and are tested on the same images, so the gain of one over
the other is measured per pair and its interval comes from the spread of the pair differences
(which cancels the subset's luck shared by both arms) rather than from two independent intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from headstart.errors import HeadstartError


@dataclass(frozen=True)
class Estimate:
    """A mean over `n` values with its two-sided confidence interval [low, high].

    `low` and `high` are None when `n` is 1: one value has no spread, so there is no interval
    (never a zero-width one).
    """

    mean: float
    low: float | None
    high: float | None
    n: int
    confidence: float = 0.95

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero (False without an interval)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def as_dict(self) -> dict[str, float | int | None]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n,
                "confidence": self.confidence}


def mean_ci(values: Sequence[float], *, confidence: float = 0.95) -> Estimate:
    """Mean of `values` with the Student-t interval of the mean.

    mean ± t_{(1+confidence)/2, n-1} · s / √n, with s the sample standard deviation (n-1 in the
    denominator). One value: the mean and no interval (low = high = None).

    Args:
        values: one figure per seed (e.g. test accuracies of one start/strategy at one budget).
        confidence: coverage of the two-sided interval, in (0, 1).

    Returns:
        An `Estimate`.

    Example:
        >>> e = mean_ci([0.79, 0.80, 0.81])
        >>> round(e.low, 4), round(e.high, 4)      # 0.80 ± 4.303 · 0.01 / √3
        (0.7752, 0.8248)
    """
    n = len(values)
    if n == 0:
        raise HeadstartError("no values to average", fix="pass at least one cell's result")
    if not 0.0 < confidence < 1.0:
        raise HeadstartError(f"confidence {confidence} is not in (0, 1)", fix="use e.g. 0.95")
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, None, None, 1, confidence)
    s = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * s / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, confidence)


def paired_difference(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95) -> Estimate:
    """Mean of the paired differences d_i = a_i - b_i with its Student-t interval.

    d̄ ± t_{(1+confidence)/2, n-1} · s_d / √n, s_d the sample standard deviation of the d_i. The
    pairs must share what both arms depend on (here: the labeled subset and the seed), so `a[i]`
    and `b[i]` are the same pair's two arms. One pair: the difference and no interval.

    Args:
        a: the arm whose gain is measured (e.g. pretrained accuracies, one per seed).
        b: the reference arm, in the same pair order (e.g. from-scratch accuracies).
        confidence: coverage of the two-sided interval, in (0, 1).

    Returns:
        An `Estimate` of mean(a - b).

    Example:
        >>> e = paired_difference([0.83, 0.84, 0.86], [0.80, 0.81, 0.82])
        >>> round(e.mean, 4), round(e.low, 4), round(e.high, 4)   # d = .03 .03 .04
        (0.0333, 0.019, 0.0477)
    """
    if len(a) != len(b):
        raise HeadstartError(f"paired difference of {len(a)} and {len(b)} values",
                             fix="pass one value per pair in each arm, in the same order")
    return mean_ci([x - y for x, y in zip(a, b)], confidence=confidence)
