"""Frozen features before any fine-tuning: does pretraining alone beat what needs no training?

kNN accuracy on the study's test split, with the labeled pool as the bank, under one protocol
(`eval.knn`: L2-normalised features, cosine similarity, k=20, votes weighted exp(sim / 0.07)) for:
the pretrained backbone, the same architecture with random weights, and the raw pixels (the
images at the run's input size, flattened). The pool is capped at `BANK` images and the test split
at `QUERIES` (seeded subsets) so a large folder costs minutes, not hours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from headstart.data.idx import FILES
from headstart.data.sources import open_data
from headstart.data.specs import split_folder
from headstart.eval.features import extract_features
from headstart.eval.knn import knn_accuracy
from headstart.eval.study.config import StudyConfig
from headstart.io import write_json
from headstart.models.factory import create_backbone, load_run_backbone
from headstart.run import Run

BANK, QUERIES = 60_000, 10_000


def frozen_knn(cfg: StudyConfig, pretrained: Path, out: Path) -> dict[str, Any] | None:
    """{"pretrained", "random", "pixels"} kNN accuracies (and the bank/query sizes), or None when
    the pool or the test split has no labels. Cached in `out` (frozen_knn.json) for resumed studies."""
    if out.is_file():
        return json.loads(out.read_text())
    bank, queries = _labeled_sets(cfg)
    if bank is None or queries is None:
        return None
    run = Run.read(pretrained)
    size = run.image_size
    torch.manual_seed(cfg.seed)
    models = {"pretrained": load_run_backbone(run), "random": create_backbone(cfg.model, image_size=size),
              "pixels": torch.nn.Flatten()}
    result: dict[str, Any] = {"bank": len(bank), "queries": len(queries), "k": 20}
    for name, model in models.items():
        fb, lb = extract_features(model, bank, size=size, channels=bank.channels, bf16=name != "pixels",
                                  progress=False)
        fq, lq = extract_features(model, queries, size=size, channels=bank.channels, bf16=name != "pixels",
                                  progress=False)
        result[name] = knn_accuracy(fb, lb, fq, lq, k=20, num_classes=len(bank.classes))
    write_json(out, result)
    return result


def held_out_spec(cfg: StudyConfig) -> str | None:
    """The labeled test set: --test, else the labeled pool's own test split, by the rule fine-tuning
    follows: a named set's (fashion-mnist -> fashion-mnist:test), an IDX folder's t10k files, a
    train/ + test/ folder's test/; None when the pool has no separate test split."""
    if cfg.test:
        return cfg.test
    source = cfg.labeled or cfg.data
    path = Path(source)
    if not path.exists():
        return f"{source}:test" if ":" not in source else None
    if path.is_dir() and ((path / FILES["test"][0]).is_file() or split_folder(path, "test") != path):
        return f"{source}:test"
    return None


def _labeled_sets(cfg: StudyConfig):
    spec = held_out_spec(cfg)
    if spec is None:
        return None, None
    pool, test = open_data(cfg.labeled or cfg.data), open_data(spec)
    if not (pool.has_labels and test.has_labels) or pool.classes != test.classes:
        return None, None
    g = torch.Generator().manual_seed(cfg.seed)
    if len(pool) > BANK:
        pool = pool.subset(torch.randperm(len(pool), generator=g)[:BANK].sort().values.numpy())
    if len(test) > QUERIES:
        test = test.subset(torch.randperm(len(test), generator=g)[:QUERIES].sort().values.numpy())
    return pool, test
