"""Self-training: the fine-tuned model labels the unlabeled images, its most confident labels join
the labeled ones, and fine-tuning goes on from there (pseudo-labelling, Lee 2013; the round
structure of Noisy Student, Xie et al. 2020, arXiv:1911.04252, with the training views as noise).

The unlabeled pool is `--unlabeled-data`, or else the rest of `--data`'s training split: every
image that is neither in the labeled subset nor in its validation split. Their labels, where the
data has them, are never trained on; they only measure how right the pseudo-labels were
(`pseudo_label_accuracy` in results.json). Each round keeps, per class, the `--pseudo-per-class`
images the model is surest belong to it (class-balanced, so a class the model over-predicts
does not crowd out the others), and trains `--steps` more steps on labeled + pseudo-labeled
images with the same strategy, from the weights the last round ended with.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits
from headstart.adapt.head import Classifier
from headstart.adapt.infer import default_device, predict_probs
from headstart.data.imageset import ImageSet, fit
from headstart.errors import HeadstartError

log = logging.getLogger("headstart")


def check_options(cfg: FinetuneConfig) -> None:
    """Before the run folder is touched."""
    if cfg.self_train and cfg.resume:
        raise HeadstartError("--resume cannot continue a --self-train run: its rounds share one checkpoint",
                             fix="run it again without --resume")
    if cfg.unlabeled_data and not cfg.self_train and cfg.semi == "none":
        raise HeadstartError("--unlabeled-data is read by --self-train and --semi only",
                             fix="add --semi fixmatch (or --self-train 1)")
    if cfg.self_train and cfg.semi != "none":
        raise HeadstartError("--semi and --self-train both learn from the unlabeled images; pick one",
                             fix="drop --self-train (or --semi)")


def pseudo_labeled(model: Classifier, pool: ImageSet, *, per_class: int, image_size: int,
                   device: torch.device) -> tuple[ImageSet, dict]:
    """The `per_class` most confident images of each predicted class, labeled with that class."""
    probs = predict_probs(model, pool, image_size=image_size, device=device)  # (N, K)
    confidence, predicted = probs.max(1)
    chosen = []
    for k in range(probs.shape[1]):
        rows = torch.nonzero(predicted == k).flatten()
        chosen.append(rows[confidence[rows].argsort(descending=True)[:per_class]])
    idx = torch.cat(chosen).sort().values.numpy()
    labels = predicted[idx].numpy().astype(np.int64)
    info: dict = {"pool": len(pool), "pseudo_labels": len(idx),
                  "per_class": np.bincount(labels, minlength=probs.shape[1]).tolist(),
                  "min_confidence": round(float(confidence[idx].min()), 4) if len(idx) else None}
    if pool.has_labels:  # a diagnostic only: these labels are never trained on
        info["pseudo_label_accuracy"] = round(float((pool.labels[idx] == labels).mean()), 4)
        info["pool_accuracy"] = round(float((pool.labels == predicted.numpy()).mean()), 4)
    return replace(pool.subset(idx), labels=labels), info


def with_pseudo_labels(data: LabeledSplits, pseudo: ImageSet) -> LabeledSplits:
    """The labeled training set grown by the pseudo-labeled images (validation and test unchanged)."""
    return replace(data, train=concat(data.train, pseudo))


def concat(a: ImageSet, b: ImageSet) -> ImageSet:
    if (a.images is None) != (b.images is None):  # one in memory, one decoded per batch: decode both
        raise HeadstartError("--self-train: the unlabeled images must be stored like the labeled ones",
                             fix="use the same kind of source (a folder, or an IDX / named set) for both")
    images = None if a.images is None else torch.cat([a.images, fit(b.images, None, a.images.shape[1])])
    return replace(a, paths=a.paths + b.paths, labels=np.concatenate([a.labels, b.labels]), images=images)


def self_train(cfg: FinetuneConfig, model: Classifier, data: LabeledSplits, train_round) -> list[dict]:
    """`cfg.self_train` rounds; `train_round(data)` fine-tunes `model` further on `data`."""
    device = default_device(cfg.accelerator)
    size = int(cfg.image_size)
    rounds = []
    for r in range(1, cfg.self_train + 1):
        pseudo, info = pseudo_labeled(model, data.unlabeled, per_class=cfg.pseudo_per_class, image_size=size,
                                      device=device)
        model.cpu()
        log.info("self-training round %d: %d pseudo-labels (%s per class)%s", r, info["pseudo_labels"],
                 info["per_class"], f", {info['pseudo_label_accuracy']:.1%} right"
                 if "pseudo_label_accuracy" in info else "")
        train_round(with_pseudo_labels(data, pseudo))
        model.cpu()
        rounds.append({"round": r, **info})
    return rounds
