"""Where a classifier fails: per-class and per-group accuracy with intervals, and calibration.

Pure functions over class probabilities `(N, K)`, targets `(N,)` and group names per image.

- A class's or a group's accuracy is the mean of its images' 0/1 correctness, with the
  Student-t interval of that mean (`eval.stats.mean_ci`).
- Its gap is its accuracy minus the accuracy of all other images. The two sets are disjoint
  and independent, so the gap's interval is a bootstrap over each set separately (Efron &
  Tibshirani 1993, percentile interval): resampling n 0/1 values with mean p is a
  Binomial(n, p) / n draw, so a resample costs two binomial draws, not n.
- A class or group is flagged when its gap is more than `margin` below zero and its interval
  excludes zero: a shortfall both large and not explained by the few images it has.
- Two models on the same images (pretrained vs scratch, after vs before fine-tuning) are
  compared per class by paired differences of per-image correctness (`stats.paired_difference`),
  which cancels how hard each image is.
- Calibration: expected calibration error over equal-width confidence bins and the
  reliability diagram's bins (Naeini et al. 2015; Guo et al., "On Calibration of Modern
  Neural Networks", ICML 2017).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from headstart.errors import HeadstartError
from headstart.eval.stats import mean_ci, paired_difference

RESAMPLES = 2000
BINS = 15


def _check(probs: torch.Tensor, targets: torch.Tensor) -> None:
    if probs.ndim != 2 or targets.ndim != 1 or len(probs) != len(targets) or len(targets) == 0:
        raise HeadstartError(f"probabilities {tuple(probs.shape)} and targets {tuple(targets.shape)} do not match",
                             fix="pass (N, K) probabilities and N integer targets")
    if int(targets.min()) < 0 or int(targets.max()) >= probs.shape[1]:
        raise HeadstartError(f"targets outside 0..{probs.shape[1] - 1}", fix="pass the classes the model was trained on")


def correct(probs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """bool `(N,)`: the top-1 prediction is the target."""
    _check(probs, targets)
    return (probs.argmax(dim=1) == targets).numpy()


def calibration(probs: torch.Tensor, targets: torch.Tensor, *, bins: int = BINS) -> dict:
    """Expected calibration error and the reliability diagram's bins.

    ECE = sum_b (n_b / N) |accuracy_b - confidence_b| over `bins` equal-width bins of the top-1
    probability in [0, 1]; empty bins are listed with count 0 and no accuracy.

    Returns:
        {"ece", "bins": [{"low", "high", "count", "confidence", "accuracy"}]}

    Example:
        >>> calibration(probs, targets)["ece"]
    """
    hit = correct(probs, targets)
    conf = probs.max(dim=1).values.double().numpy()
    which = np.minimum((conf * bins).astype(int), bins - 1)  # confidence 1.0 falls in the last bin
    out, ece = [], 0.0
    for b in range(bins):
        members = which == b
        n = int(members.sum())
        acc = float(hit[members].mean()) if n else None
        mean_conf = float(conf[members].mean()) if n else None
        if n:
            ece += n / len(conf) * abs(acc - mean_conf)
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": n, "confidence": mean_conf, "accuracy": acc})
    return {"ece": ece, "bins": out}


def gap_interval(hit: np.ndarray, members: np.ndarray, *, confidence: float = 0.95,
                 resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Accuracy of `members` minus that of the other rows, with a bootstrap percentile interval.

    Args:
        hit: bool `(N,)` correctness; members: bool `(N,)` the class or group.

    Returns:
        {"mean", "low", "high"}; low and high are None when either side has fewer than 2 rows.
    """
    inside, outside = hit[members], hit[~members]
    if len(inside) == 0 or len(outside) == 0:
        raise HeadstartError("a group must hold some images and leave some out", fix="check the group column")
    gap = float(inside.mean() - outside.mean())
    if len(inside) < 2 or len(outside) < 2:
        return {"mean": gap, "low": None, "high": None}
    rng = np.random.default_rng(seed)
    draws = (rng.binomial(len(inside), inside.mean(), resamples) / len(inside)
             - rng.binomial(len(outside), outside.mean(), resamples) / len(outside))
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return {"mean": gap, "low": float(low), "high": float(high)}


def flagged(gap: dict, margin: float) -> bool:
    """More than `margin` below the other rows, and an interval wholly below zero."""
    return gap["mean"] < -margin and gap["high"] is not None and gap["high"] < 0


def group_report(hit: np.ndarray, groups: Sequence[str], *, margin: float = 0.05, confidence: float = 0.95,
                 seed: int = 0) -> list[dict]:
    """Per group: size, accuracy with its interval, the gap to the other rows, and the flag.

    Rows whose group is "" are left out of every group (and of the comparison). Groups come
    sorted by gap, worst first.

    Example:
        >>> group_report(correct(probs, y), ["site A", "site B", ...], margin=0.05)
    """
    names = np.asarray(groups, dtype=object)
    if len(names) != len(hit):
        raise HeadstartError(f"{len(names)} group names for {len(hit)} images", fix="give one group per image")
    known = names != ""
    hit, names = hit[known], names[known]
    out = []
    for g in sorted(set(names.tolist())):
        members = names == g
        if members.all():
            continue  # a group holding every image has nothing to be compared with
        acc = mean_ci(hit[members].astype(float).tolist(), confidence=confidence)
        gap = gap_interval(hit, members, confidence=confidence, seed=seed)
        out.append({"group": g, "n": int(members.sum()), "accuracy": acc.as_dict(), "gap": gap,
                    "flagged": flagged(gap, margin)})
    return sorted(out, key=lambda r: r["gap"]["mean"])


def class_report(probs: torch.Tensor, targets: torch.Tensor, classes: Sequence[str], *, margin: float = 0.05,
                 confidence: float = 0.95, seed: int = 0) -> list[dict]:
    """Per class (in class order): support, accuracy (= recall) with interval, precision, gap, flag."""
    hit = correct(probs, targets)
    pred, y = probs.argmax(dim=1).numpy(), targets.numpy()
    names = [classes[c] for c in y]
    by_group = {r["group"]: r for r in group_report(hit, names, margin=margin, confidence=confidence, seed=seed)}
    out = []
    for c, name in enumerate(classes):
        row = by_group.get(name)
        if row is None:
            continue  # no test image of this class, or nothing but this class
        predicted = int((pred == c).sum())
        precision = float(((pred == c) & (y == c)).sum() / predicted) if predicted else None
        out.append({"class": name, "support": row["n"], "accuracy": row["accuracy"], "precision": precision,
                    "predicted": predicted, "gap": row["gap"], "flagged": row["flagged"]})
    return out


def compare(probs: torch.Tensor, baseline: torch.Tensor, targets: torch.Tensor, classes: Sequence[str], *,
            confidence: float = 0.95) -> dict:
    """Per-class and overall accuracy of `probs` minus `baseline` on the same images, paired.

    Returns:
        {"overall": Estimate dict, "per_class": [{"class", "difference": Estimate dict}], "largest_drop":
        the class whose accuracy fell most (or None when none fell)}
    """
    if probs.shape != baseline.shape:
        raise HeadstartError(f"two models' probabilities differ in shape: {tuple(probs.shape)} and "
                             f"{tuple(baseline.shape)}", fix="compare runs on the same images and classes")
    a, b = correct(probs, targets).astype(float), correct(baseline, targets).astype(float)
    y = targets.numpy()
    rows = [{"class": name, "difference": paired_difference(a[y == c].tolist(), b[y == c].tolist(),
                                                            confidence=confidence).as_dict()}
            for c, name in enumerate(classes) if (y == c).any()]
    drops = [r for r in rows if r["difference"]["mean"] < 0]
    worst = min(drops, key=lambda r: r["difference"]["mean"])["class"] if drops else None
    return {"overall": paired_difference(a.tolist(), b.tolist(), confidence=confidence).as_dict(),
            "per_class": rows, "largest_drop": worst}


def bias_report(probs: torch.Tensor, targets: torch.Tensor, classes: Sequence[str], *,
                groups: dict[str, Sequence[str]] | None = None, baseline: torch.Tensor | None = None,
                margin: float = 0.05, bins: int = BINS, confidence: float = 0.95, seed: int = 0) -> dict:
    """Everything `headstart bias` reports, as JSON-ready data.

    Args:
        probs: `(N, K)` class probabilities; targets: int64 `(N,)`; classes: K names.
        groups: attribute name -> a group name per image ("" where unknown), e.g. {"site": [...]}.
        baseline: another model's `(N, K)` probabilities on the same images (e.g. from scratch).
        margin: how far below the other images a class or group may fall before it is flagged.

    Example:
        >>> r = bias_report(probs, y, classes, groups={"kind": kinds}); r["worst_class"], r["calibration"]["ece"]
    """
    hit = correct(probs, targets)
    per_class = class_report(probs, targets, classes, margin=margin, confidence=confidence, seed=seed)
    report = {"n": len(hit), "accuracy": float(hit.mean()), "margin": margin, "confidence": confidence,
              "per_class": per_class,
              "worst_class": min(per_class, key=lambda r: r["accuracy"]["mean"])["class"],
              "calibration": calibration(probs, targets, bins=bins),
              "groups": {attr: group_report(hit, names, margin=margin, confidence=confidence, seed=seed)
                         for attr, names in (groups or {}).items()}}
    if baseline is not None:
        report["baseline"] = {"accuracy": float(correct(baseline, targets).mean()),
                              "calibration": calibration(baseline, targets, bins=bins),
                              "worst_class": min(class_report(baseline, targets, classes, margin=margin, seed=seed),
                                                 key=lambda r: r["accuracy"]["mean"])["class"],
                              "difference": compare(probs, baseline, targets, classes, confidence=confidence)}
    return report
