"""The labeled data of a fine-tuning run: a seeded, stratified label subset of the training
split, a validation split held out from that subset only, and the test split.

The chosen indices (into the training split of `--data`) are written to `subset.json`, so a
run can be reproduced and its subset compared with other runs'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.adapt.config import FinetuneConfig
from headstart.data.imageset import UNLABELED, ImageSet, fit
from headstart.data.sources import open_data
from headstart.data.subsets import label_subset, split_train_val
from headstart.errors import HeadstartError
from headstart.io import write_json


@dataclass
class LabeledSplits:
    train: ImageSet
    val: ImageSet
    test: ImageSet | None
    classes: list[str]
    subset: dict  # the content of subset.json
    unlabeled: ImageSet | None = None  # --self-train's and --semi's pool (labels, if any, never trained on)
    views: str = "supervised"  # training views of a batch: "supervised" augmentation, or "none" (token ids)


Opener = Callable[[str, str], Any]  # (spec, split) -> a labeled set (`ImageSet`, `TextSet`, ...)


def open_labeled(
    spec: str, *, split: str = "train", on_bad_image: str = "skip", load_size: int | None = None,
    opener: Opener | None = None,
) -> ImageSet:
    """Open `spec` (with `opener`, default: as images) and check that every item has a label."""
    data = (opener(spec, split) if opener is not None
            else open_data(spec, split=split, on_bad_image=on_bad_image, load_size=load_size))
    if len(data) == 0 or not data.has_labels:
        raise HeadstartError(
            f"{spec} has no labels for fine-tuning",
            fix="put the images (or texts) in one sub-folder per class, or use a labeled set such as "
            "fashion-mnist or fortunes-topic",
        )
    return data


def open_test(
    spec: str, train: ImageSet, *, on_bad_image: str = "skip", load_size: int | None = None,
    opener: Opener | None = None,
) -> ImageSet | None:
    """The test split of `spec`; None when it has no separate one (it would be the training data)."""
    test = (opener(spec, "test") if opener is not None
            else open_data(spec, split="test", on_bad_image=on_bad_image, load_size=load_size))
    if test.source == train.source or getattr(test, "paths", None) and test.paths[:50] == train.paths[:50]:
        return None
    return test if test.has_labels else None


def labeled_splits(cfg: FinetuneConfig, *, opener: Opener | None = None) -> LabeledSplits:
    """Open `--data` (with `opener`, default: as images), take the label budget, hold out the
    validation split (sizes: as stored)."""
    data = open_labeled(cfg.data, on_bad_image=cfg.on_bad_image, opener=opener)
    if cfg.indices is not None:
        if cfg.labels is not None or cfg.per_class is not None:
            raise HeadstartError("--indices and --labels/--per-class both choose the labeled images",
                                 fix="pass only one of them")
        pool = read_indices(cfg.indices, len(data))
    else:
        pool = label_subset(
            data.labels, labels_budget=cfg.labels, per_class=cfg.per_class, seed=cfg.seed, classes=data.classes
        )
    train_idx, val_idx = split_train_val(pool, data.labels, val_fraction=cfg.val_fraction, seed=cfg.seed)
    subset = {
        "data": cfg.data,
        "seed": cfg.seed,
        "labels": cfg.labels,
        "per_class": cfg.per_class,
        "val_fraction": cfg.val_fraction,
        "classes": data.classes,
        "pool_size": len(data),
        "train": train_idx.tolist(),
        "val": val_idx.tolist(),
        "train_per_class": _counts(data.labels[train_idx], len(data.classes)),
        "val_per_class": _counts(data.labels[val_idx], len(data.classes)),
    }
    if cfg.indices is not None:
        subset["indices"] = str(cfg.indices)
    test = None
    if cfg.test_split:
        test = (
            open_labeled(cfg.test_data, split="test", on_bad_image=cfg.on_bad_image, opener=opener)
            if cfg.test_data
            else open_test(cfg.data, data, on_bad_image=cfg.on_bad_image, opener=opener)
        )
    if test is not None and test.classes != data.classes:
        raise HeadstartError(
            f"the test data's classes {test.classes[:5]} differ from the training data's {data.classes[:5]}",
            fix="use the same class sub-folders in both",
        )
    unlabeled = None
    if cfg.self_train or cfg.semi != "none":
        unlabeled = unlabeled_pool(cfg, data, np.concatenate([train_idx, val_idx]))
    return LabeledSplits(data.subset(train_idx), data.subset(val_idx), test, data.classes, subset, unlabeled)


def unlabeled_pool(cfg: FinetuneConfig, train_split: ImageSet, used: np.ndarray) -> ImageSet:
    """`--unlabeled-data`, else the training split without the `used` (labeled + validation) rows."""
    if cfg.unlabeled_data:
        pool = open_data(cfg.unlabeled_data, split="train", on_bad_image=cfg.on_bad_image)
        if pool.has_labels and pool.classes != train_split.classes:  # labels of other classes: ignore
            pool = replace(pool, labels=np.full(len(pool), UNLABELED, dtype=np.int64))
        pool = pool.with_format(size=pool.size, channels=train_split.channels)  # batched with the labeled ones
    else:
        pool = train_split.subset(np.setdiff1d(np.arange(len(train_split)), used))
    if len(pool) == 0:
        raise HeadstartError("no unlabeled images for --self-train / --semi: every training image is labeled",
                             fix="pass --unlabeled-data DIR, or label less of --data")
    return pool


def read_indices(path: Path, n_rows: int) -> np.ndarray:
    """Sorted unique int64 row indices from a file: a JSON list, or one integer a line."""
    import json

    path = Path(path)
    if not path.is_file():
        raise HeadstartError(f"--indices file {path} does not exist", fix="pass a file of row indices")
    text = path.read_text().strip()
    try:
        values = json.loads(text) if text.startswith("[") else [int(v) for v in text.split()]
        idx = np.unique(np.asarray(values, dtype=np.int64))
    except (ValueError, TypeError):
        raise HeadstartError(f"{path} must hold integer row indices", fix="one integer a line") from None
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n_rows:
        raise HeadstartError(f"{path}: indices must be in [0, {n_rows}), at least one",
                             fix="index rows of the training split of --data")
    return idx


def _counts(labels: np.ndarray, k: int) -> list[int]:
    return np.bincount(labels, minlength=k).tolist()


def at_size(data: ImageSet, size: int) -> ImageSet:
    """`data` served at `size` px: in-memory sets are resized once, others per batch."""
    if data.images is None:
        return data.with_format(size=size, channels=data.channels)
    if tuple(data.images.shape[-2:]) != (size, size):
        c = data.images.shape[1]
        data = replace(data, images=torch.cat([fit(chunk, size, c) for chunk in data.images.split(4096)]))
    return data.with_format(size=None, channels=data.channels)


def write_subset(run: Path, subset: dict) -> None:
    write_json(run / "subset.json", subset)


def check_subset(run: Path, subset: dict) -> None:
    """On --resume, the recomputed subset must be the one the run started with."""
    import json

    path = run / "subset.json"
    if path.is_file() and json.loads(path.read_text()) != subset:
        raise HeadstartError(
            f"--resume: the label subset differs from the one in {path}",
            fix="resume with the same --data, --labels/--per-class, --val-fraction and --seed",
        )
