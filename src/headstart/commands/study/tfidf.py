"""The TF-IDF + logistic-regression cells of a text study: the classic few-label baseline on the very
label subsets the fine-tuning cells of the same budget and seed train on (same draw, same
validation split; `adapt.data.labeled_splits` over the texts), tested on the same test split.

A cell is one record like a fine-tuning cell's (start "tfidf", strategy "logreg"), cached in
`cells/`, so `eval.gains` draws its curve and pairs it with the others seed by seed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import labeled_splits
from headstart.commands.study.cells import Cell, budget_args
from headstart.data.text import open_text
from headstart.eval.tfidf import tfidf_accuracy
from headstart.io import write_json

START, STRATEGY = "tfidf", "logreg"


def tfidf_cells(budgets: list[str], seeds: list[int]) -> list[Cell]:
    return [Cell(START, STRATEGY, budget, seed) for budget in budgets for seed in seeds]


def run_tfidf_cell(cell: Cell, folder: Path, *, data: str, test_data: str | None,
                   val_fraction: float = 0.1) -> dict[str, Any]:
    """Fit TF-IDF + logistic regression on the cell's labeled training texts; its record (cached)."""
    result_file = folder / "cells" / f"{cell.id}.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    start = time.perf_counter()
    cfg = FinetuneConfig(from_="scratch", data=data, test_data=test_data, seed=cell.seed, val_fraction=val_fraction,
                         **budget_args(cell.budget))
    splits = labeled_splits(cfg, opener=lambda spec, split: open_text(spec, split=split))
    sets = {"val": (splits.val.texts, splits.val.labels)}
    if splits.test is not None:
        sets["test"] = (splits.test.texts, splits.test.labels)
    scores = tfidf_accuracy(splits.train.texts, splits.train.labels, sets)
    record = {**asdict(cell), "id": cell.id, "accuracy": scores.get("test", scores["val"]),
              "val_accuracy": scores["val"], "labels": len(splits.train) + len(splits.val),
              "seconds": round(time.perf_counter() - start, 1), "run": None}
    write_json(result_file, record)
    return record
