"""Study cells: one fine-tuning run per (start, strategy, label budget, seed), each cached.

A cell's result is a small JSON file in `cells/`; a finished cell is never recomputed, so an
interrupted study resumes where it stopped. An image cell also keeps its class probabilities on
the test split (`test_probs.npz` in its run folder) for the report's bias section.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.adapt.data import open_labeled, open_test
from headstart.adapt.head import load_classifier
from headstart.adapt.infer import predict_probs
from headstart.commands.finetune import finetune
from headstart.data.text import is_text_spec
from headstart.errors import HeadstartError
from headstart.io import write_json
from headstart.run import Run


@dataclass(frozen=True)
class Cell:
    start: str        # "scratch" | "pretrained" | "baseline"
    strategy: str     # fine-tuning strategy
    budget: str       # "10/class" | "1%" | "600"
    seed: int
    semi: str | None = None   # a --semi method: the cell also trains on the unlabeled rest of the pool

    @property
    def id(self) -> str:
        slug = self.budget.replace("/class", "pc").replace("%", "pct").replace(".", "_")
        semi = f"+{self.semi}" if self.semi else ""
        return f"{self.start}-{self.strategy}{semi}-{slug}-s{self.seed}"


def budget_args(budget: str) -> dict[str, Any]:
    """`10/class` -> per_class=10; `1%` / `600` -> labels=...; `100%` -> every label."""
    if m := re.fullmatch(r"(\d+)\s*/\s*class", budget.strip()):
        return {"per_class": int(m.group(1))}
    if re.fullmatch(r"\d+(\.\d+)?%|\d+", budget.strip()):
        return {} if budget.strip() == "100%" else {"labels": budget.strip()}
    raise HeadstartError(f"bad label budget {budget!r}", fix="use N/class (10/class), a share (1%) or a count (600)")


def plan_cells(starts: list[str], strategies: list[str], budgets: list[str], seeds: list[int],
               semi: list[str] = ()) -> list[Cell]:
    """From scratch always trains fully; pretrained starts use each strategy; each of those once more
    per `semi` method (a frozen backbone cannot learn from the pool: `linear` gets no semi cell).
    Cheap cells first: budget by budget, seed by seed."""
    cells = []
    for budget in budgets:
        budget_args(budget)  # fail early on a bad budget
        for seed in seeds:
            for method in [None, *semi]:
                for start in starts:
                    for strategy in (["full"] if start == "scratch" else strategies):
                        if not (method and strategy == "linear"):
                            cells.append(Cell(start, strategy, budget, seed, method))
    return cells


def run_cell(cell: Cell, folder: Path, finetune_kwargs: dict[str, Any], *, keep_checkpoints: bool = True
             ) -> dict[str, Any]:
    """Fine-tune one cell (unless its result is cached) and return its result record; without
    `keep_checkpoints` the finished cell's checkpoints go (its figures, results and weights stay)."""
    result_file = folder / "cells" / f"{cell.id}.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    out = folder / "finetune" / cell.id
    if out.exists():
        shutil.rmtree(out)  # a half-finished cell from an interrupted study: start it again
    start = time.perf_counter()
    semi = {"semi": cell.semi} if cell.semi else {}
    finetune(out=out, seed=cell.seed, strategy=cell.strategy, progress=False, overwrite=True,
             **budget_args(cell.budget), **semi, **finetune_kwargs)
    run = Run(out)
    results = run.results()
    if not keep_checkpoints:
        shutil.rmtree(run.checkpoints, ignore_errors=True)
    record = {**asdict(cell), "id": cell.id, **scores(results),
              "labels": count_labels(out), "seconds": round(time.perf_counter() - start, 1), "run": str(out)}
    if finetune_kwargs.get("task", "classify") == "classify" and \
            (probs := save_test_probs(out, finetune_kwargs)) is not None:
        record["test_probs"] = probs
    write_json(result_file, record)
    return record


def scores(results: dict[str, Any]) -> dict[str, Any]:
    """A cell's test and validation score from its results.json: accuracy for classification; for a
    detection cell mAP@0.5:0.95 (`metric` "map", with mAP@0.5 beside it), for segmentation mIoU."""
    task = results.get("task", "classify")
    if task == "classify":
        return {"accuracy": float(results["accuracy"]), "val_accuracy": float(results["val_accuracy"])}
    key = "map" if task == "detect" else "miou"
    extra = {"map50": float(results["map50"]), "val_map50": float(results["val_map50"])} if task == "detect" else {}
    return {"metric": key, key: float(results[key]), f"val_{key}": float(results[f"val_{key}"]), **extra}


def count_labels(run: Path) -> int:
    """Labeled images the cell used (its training and validation subsets; a detection or
    segmentation cell's training and validation images)."""
    if not (run / "subset.json").is_file():
        results = Run(run).results()
        return int(results["train_images"]) + int(results["val_images"])
    subset = json.loads((run / "subset.json").read_text())
    return sum(len(v) for k, v in subset.items() if k in ("train", "val", "train_indices", "val_indices"))


def save_test_probs(out: Path, finetune_kwargs: dict[str, Any]) -> str | None:
    """`out/test_probs.npz`: the cell's classifier on the test split (probs float16 `(N, K)`, targets
    `(N,)`, classes), for the bias section; None for a text cell or data without a test split.

    Fine-tuning keeps only the test figures, so the saved model predicts the test split once more.
    """
    data, test_data = finetune_kwargs["data"], finetune_kwargs.get("test_data")
    if is_text_spec(data):
        return None
    model, size = load_classifier(Run.read(out))
    test = (open_labeled(test_data, split="test", load_size=size) if test_data
            else open_test(data, open_labeled(data, load_size=size), load_size=size))
    if test is None:
        return None
    probs = predict_probs(model, test, image_size=size)
    path = out / "test_probs.npz"
    np.savez_compressed(path, probs=probs.numpy().astype(np.float16), targets=test.labels,
                        classes=np.array(test.classes))
    return str(path)
