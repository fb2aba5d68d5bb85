"""Forgetting: how much fine-tuning costs the backbone on the data it was pretrained on.

Fine-tuning on a few labels of a new task can distort general features (Kumar et al. 2022;
Wortsman et al. 2022). We measure it as the drop in kNN accuracy (`headstart.eval.knn`) of
the backbone's frozen features on a held-out labeled split of the pretraining data: a bank
from its training split, queries from its test split (or, when it has none, a stratified
half of the labeled set each), before and after fine-tuning, and after WiSE-FT blending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from headstart.data.imageset import ImageSet
from headstart.data.sources import open_data
from headstart.data.subsets import label_subset, split_train_val
from headstart.errors import HeadstartError
from headstart.eval.features import extract_features
from headstart.eval.knn import knn_accuracy

BANK_SIZE = 5_000
QUERY_SIZE = 2_000


def forgetting_sets(
    spec: str,
    *,
    seed: int = 0,
    bank_size: int = BANK_SIZE,
    query_size: int = QUERY_SIZE,
    load_size: int | None = None,
    opener: Callable[[str, str], Any] | None = None,
) -> tuple[ImageSet, ImageSet]:
    """(bank, query) from a labeled data set: stratified, seeded samples of its train and test splits.
    `opener(spec, split)` opens another kind of set (a `TextSet`); default: images, indexed without
    decoding (memory budget 0), so only the sampled bank and queries are decoded, and a folder with
    no labels is refused before any image of it is read."""
    def open_split(split: str):
        if opener is not None:
            return opener(spec, split)
        return open_data(spec, split=split, load_size=load_size, memory_budget=0)

    train = open_split("train")
    if len(train) == 0 or not train.has_labels:
        raise HeadstartError(
            f"the forgetting data {spec} has no labels",
            fix="pass --forgetting-data with class sub-folders or a labeled set (in a study: --finetune-args "
                "forgetting_data=...)",
        )
    test = open_split("test")
    if test.source == train.source or not test.has_labels:  # one labeled set: split it in halves
        bank_idx, query_idx = split_train_val(range(len(train)), train.labels, val_fraction=0.5, seed=seed)
        train, test = train.subset(bank_idx), train.subset(query_idx)
    bank = train.subset(_sample(train, bank_size, seed))
    query = test.subset(_sample(test, query_size, seed))
    return bank, query


def _sample(data: ImageSet, n: int, seed: int):
    if n >= len(data):
        return range(len(data))
    return label_subset(data.labels, labels_budget=str(n), seed=seed)


@torch.no_grad()
def knn_score(
    backbone: nn.Module,
    bank: ImageSet,
    query: ImageSet,
    *,
    image_size: int,
    k: int = 20,
    device: torch.device | str | None = None,
) -> float:
    """kNN top-1 accuracy of `backbone`'s features (eval mode), bank -> query, at `image_size` px."""
    was_training = backbone.training
    backbone.eval()
    try:
        fb, lb = extract_features(
            backbone, bank.with_format(size=image_size, channels=bank.channels), device=device, progress=False
        )
        fq, lq = extract_features(
            backbone,
            query.with_format(size=image_size, channels=query.channels),
            device=device,
            progress=False,
        )
    finally:
        backbone.train(was_training)
    return knn_accuracy(fb, lb, fq, lq, k=k, num_classes=len(bank.classes) or None)


def forgetting(
    before: nn.Module,
    after: nn.Module,
    bank: ImageSet,
    query: ImageSet,
    *,
    image_size: int,
    k: int = 20,
    blended: nn.Module | None = None,
    device: torch.device | str | None = None,
) -> dict:
    """kNN accuracy before and after fine-tuning (and after blending) and the drops, as a JSON dict.

    Returns:
        `{"before", "after", "drop", "k", "bank", "query"}` plus `"blended"` and `"blended_drop"`
        when a blended backbone is given; accuracies in [0, 1], drops = before - after.
    """
    score = {"image_size": image_size, "k": k, "device": device}
    out = {"k": k, "bank": len(bank), "query": len(query)}
    out["before"] = knn_score(before, bank, query, **score)
    out["after"] = out["before"] if after is before else knn_score(after, bank, query, **score)
    out["drop"] = out["before"] - out["after"]
    if blended is not None:
        out["blended"] = knn_score(blended, bank, query, **score)
        out["blended_drop"] = out["before"] - out["blended"]
    return out
