"""Label subsets: `--labels 1%` / `--labels 600` / `--per-class 10`, and a validation hold-out.

Both are stratified by class and seeded. Each class is shuffled once by a generator seeded
with `(seed, class)`, and a subset takes the head of every class's order, so the same seed
always gives the same indices, and a larger budget holds every image a smaller one chose
(1% is inside 2%): label-efficiency curves compare nested sets, as in SimCLR's semi-supervised
protocol (Chen et al., 2020, "A Simple Framework for Contrastive Learning", sec. 4.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from headstart.data.imageset import UNLABELED
from headstart.errors import HeadstartError

_COUNT = re.compile(r"[0-9]+")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)%")
TINY_VAL_FRACTION = 0.2  # classes of <= 10 labels hold out ~20% (at least 1) for validation
_BUDGET_FIX = "write a count such as 600 or a percentage such as 1% or 0.5%"


@dataclass(frozen=True)
class Budget:
    """A label budget: `count` images, or `percent` % of the labeled pool."""

    count: int | None = None
    percent: float | None = None

    def of(self, pool: int) -> int:
        """The number of images this budget takes from a pool of `pool` (at least 1)."""
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return max(1, int(pool * self.percent / 100 + 0.5))


def parse_budget(text: str) -> Budget:
    """Read `"600"` (images) or `"1%"`, `"0.5%"` (of the labeled pool).

    Example:
        >>> parse_budget("1%").of(60000)
        600
    """
    text = str(text).strip()
    if _COUNT.fullmatch(text):
        count = int(text)
        if count < 1:
            raise HeadstartError(f"label budget {text!r} is zero", fix=_BUDGET_FIX)
        return Budget(count=count)
    match = _PERCENT.fullmatch(text)
    if not match:
        per_class = re.fullmatch(r"\s*([0-9]+)\s*/\s*class\s*", text)
        fix = f"for {per_class[1]} per class pass --per-class {per_class[1]}; or " if per_class else ""
        raise HeadstartError(f"cannot read label budget {text!r}", fix=fix + _BUDGET_FIX)
    percent = float(match.group(1))
    if not 0 < percent <= 100:
        raise HeadstartError(f"label budget {text!r} is not in (0%, 100%]", fix=_BUDGET_FIX)
    return Budget(percent=percent)


def label_subset(labels: np.ndarray, *, labels_budget: str | None = None, per_class: int | None = None,
                 seed: int = 0, classes: Sequence[str] | None = None) -> np.ndarray:
    """Indices of a stratified, seeded subset of the labeled images.

    Args:
        labels: int `(N,)`, `UNLABELED` (-1) images are never chosen.
        labels_budget: `"1%"` or `"600"`: split over classes in proportion to their size
            (largest remainder), at least one per class when the budget has that many.
        per_class: exactly this many from every class. Neither: every labeled image.
        seed: same seed, same indices.
        classes: class names, only to name a class in an error.

    Returns:
        Sorted int64 indices into `labels`.
    """
    labels = np.asarray(labels)
    pool = _labeled_pool(labels)
    if labels_budget is not None and per_class is not None:
        raise HeadstartError("both a label budget and a per-class count were given", fix="pass only one")
    values, counts = np.unique(labels[pool], return_counts=True)
    if per_class is not None:
        quota = _per_class_quota(values, counts, per_class, classes)
    elif labels_budget is not None:
        k = parse_budget(labels_budget).of(len(pool))
        if k > len(pool):
            raise HeadstartError(f"label budget {labels_budget} is more than the {len(pool)} labeled images",
                                 fix=f"ask for at most {len(pool)} or a percentage")
        quota = _allocate(counts, k)
    else:
        return pool
    orders = _class_orders(labels, values, seed, stream=0)
    return np.sort(np.concatenate([order[:q] for order, q in zip(orders, quota)]))


def split_train_val(indices: np.ndarray, labels: np.ndarray, *, val_fraction: float = 0.1,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a stratified validation split from a labeled pool.

    Every class gives `round(val_fraction * n)` images, but classes of 10 or fewer give ~20%
    (at least 1, e.g. 2 of 10), so tiny pools still validate on every class; each class
    keeps at least one image for training.

    Args:
        indices: the labeled pool (e.g. from `label_subset`), indices into `labels`.
        labels: int `(N,)` labels of the whole set.
        val_fraction: in (0, 1).
        seed: same seed, same split.

    Returns:
        `(train, val)`: disjoint sorted int64 indices whose union is `indices`.
    """
    indices = np.unique(np.asarray(indices, dtype=np.int64))
    labels = np.asarray(labels)
    if not 0 < val_fraction < 1:
        raise HeadstartError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if (labels[indices] == UNLABELED).any():
        raise HeadstartError("the validation split can only come from labeled images",
                             fix="pass indices of labeled images (e.g. from label_subset)")
    in_pool = np.full(len(labels), UNLABELED, dtype=np.int64)
    in_pool[indices] = labels[indices]
    train, val = [], []
    for order in _class_orders(in_pool, np.unique(labels[indices]), seed, stream=1):
        n_val = _val_count(len(order), val_fraction)
        val.append(order[:n_val])
        train.append(order[n_val:])
    if sum(len(v) for v in val) == 0:
        raise HeadstartError(f"cannot hold out a validation split from {len(indices)} labeled images",
                             fix="label at least 2 images of some class")
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _labeled_pool(labels: np.ndarray) -> np.ndarray:
    pool = np.flatnonzero(labels != UNLABELED)
    if len(pool) == 0:
        raise HeadstartError("the data has no labels",
                             fix="put the images in one sub-folder per class, or use a labeled set such as "
                             "fashion-mnist")
    return pool


def _per_class_quota(values: np.ndarray, counts: np.ndarray, per_class: int,
                     classes: Sequence[str] | None) -> np.ndarray:
    if per_class < 1:
        raise HeadstartError(f"per-class count must be at least 1, got {per_class}")
    short = np.flatnonzero(counts < per_class)
    if len(short):
        i = short[0]
        name = repr(classes[values[i]]) if classes is not None else str(values[i])
        raise HeadstartError(f"class {name} has only {counts[i]} labeled images, fewer than {per_class} "
                             "per class",
                             fix=f"ask for at most {counts.min()} per class or add images to that class")
    return np.full(len(values), per_class)


def _allocate(counts: np.ndarray, k: int) -> np.ndarray:
    """Split `k` over classes in proportion to `counts` by largest remainder (Hamilton's method),
    with one per class first when `k` >= the number of classes. Exact integer arithmetic."""
    counts = counts.astype(np.int64)
    floor = np.ones_like(counts) if k >= len(counts) else np.zeros_like(counts)
    spare = counts - floor
    if spare.sum() == 0:
        return floor
    numerator = (k - floor.sum()) * spare  # quota_c = floor_c + (k - sum floor) * spare_c / sum spare
    quota = floor + numerator // spare.sum()
    remainder = numerator % spare.sum()
    order = np.argsort(-remainder, kind="stable")  # ties: lower class first
    quota[order[: k - quota.sum()]] += 1
    return quota


def _class_orders(labels: np.ndarray, values: np.ndarray, seed: int, stream: int) -> list[np.ndarray]:
    """One seeded shuffle of each class's indices, independent of any budget."""
    return [np.random.default_rng([_seed(seed), int(v), stream]).permutation(np.flatnonzero(labels == v))
            for v in values]


def _val_count(n: int, val_fraction: float) -> int:
    tiny = max(1, round(TINY_VAL_FRACTION * min(n, 10)))
    return min(max(round(val_fraction * n), tiny), n - 1)


def _seed(seed: int) -> int:
    if seed < 0:
        raise HeadstartError(f"seed must be >= 0, got {seed}")
    return int(seed)
