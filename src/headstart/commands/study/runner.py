"""`headstart study`, top to bottom: pretrain once (or reuse), fine-tune every cell of the label
ladder from scratch / pretrained / baseline weights, aggregate over seeds, answer, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from headstart.commands.dense_eval import draw_test_predictions
from headstart.commands.pretrain import pretrain
from headstart.commands.study.cells import Cell, plan_cells, run_cell
from headstart.commands.study.frozen import frozen_knn, held_out_spec
from headstart.commands.study.tfidf import run_tfidf_cell, tfidf_cells
from headstart.config import from_yaml, to_yaml
from headstart.data.dense.sources import has_split
from headstart.data.text import is_text_spec
from headstart.errors import HeadstartError
from headstart.eval.gains import format_point, summarize
from headstart.eval.study.config import StudyConfig
from headstart.report.study import chosen_cell, write_report
from headstart.run import Run, open_run


@dataclass
class StudyResult:
    run: Path
    answer: str
    curves: dict[str, list[dict[str, Any]]]
    seconds: float


DENSE_BUDGETS = ["10%", "100%"]  # a detection / segmentation study's default: no per-class budgets there


def run(cfg: StudyConfig) -> StudyResult:
    start = time.perf_counter()
    cfg = for_task(cfg)
    rundir = open_run(cfg.out, "study", resume=cfg.resume, overwrite=cfg.overwrite, marker="config.yaml")
    try:
        rundir.save_config(to_yaml(cfg))
        pretrained = pretrain_stage(cfg, rundir)
        seeds = [cfg.seed + i for i in range(cfg.seeds)]
        cells = plan_cells(starts(cfg), cfg.strategies, cfg.budgets, seeds, [] if cfg.semi == "none" else [cfg.semi])
        records = run_cells(cfg, rundir, cells, pretrained)
        text = cfg.task == "classify" and is_text_spec(cfg.labeled or cfg.data)  # a mask folder has classes.txt
        pictures = not text and cfg.task == "classify"  # labeled images: thumbnails, embedding map, frozen kNN
        if text:  # the classic few-label text baseline on the same label subsets
            _stage("TF-IDF + logistic regression on the same labeled texts")
            records += [run_tfidf_cell(c, rundir.path, data=cfg.labeled or cfg.data, test_data=cfg.test)
                        for c in tfidf_cells(cfg.budgets, seeds)]
        # answer, curves, paired gains, choice on validation, savings
        summary = summarize(records, budget=cfg.answer_budget)
        frozen = None
        if pictures:  # raw pixels and thumbnails: an image classification study's figures
            _stage("frozen features: kNN of the pretrained backbone vs random weights vs raw pixels")
            frozen = frozen_knn(cfg, pretrained, rundir.path / "frozen_knn.json")
        results = {**summary, "cells": records, "frozen_knn": frozen, "pretrain_run": str(pretrained),
                   "seconds": round(time.perf_counter() - start, 1)}
        rundir.write_results(results)
        cell = chosen_cell(results) if cfg.task != "classify" else None
        drawn = draw_test_predictions(Run(Path(cell["run"])), rundir.path / "plots" / "predictions.png") \
            if cell else None
        write_report(out=rundir.path, results=results, pretrained=pretrained, predictions=drawn,
                     test_data=held_out_spec(cfg) if pictures else None,
                     title=f"headstart study: {cfg.model} + {cfg.method} on {cfg.data}"
                     + ("" if cfg.task == "classify" else f", {cfg.task}"))
        print_summary(summary["answer"], summary["curves"], frozen, rundir.path, metric=summary["metric"])
        return StudyResult(rundir.path, summary["answer"], summary["curves"], time.perf_counter() - start)
    finally:
        rundir.release()


def for_task(cfg: StudyConfig) -> StudyConfig:
    """A detection / segmentation study's settings: budgets are counts or shares of the labeled
    images (unset: `DENSE_BUDGETS`), scored on the labeled data's own test split; the options only a
    classification study has are refused in one line."""
    if cfg.task == "classify":
        return cfg
    given = [flag for flag, on in (("--test", cfg.test), ("--semi", cfg.semi != "none")) if on]
    if given:
        raise HeadstartError(f"{', '.join(given)} apply to classification studies, not --task {cfg.task}",
                             fix=f"drop {', '.join(given)}: a {cfg.task} study scores on the labeled data's test "
                             "split")
    budgets = cfg.budgets if "budgets" in cfg.model_fields_set else DENSE_BUDGETS
    if per_class := [b for b in budgets if "/class" in b]:
        raise HeadstartError(f"--budgets {per_class[0]}: a per-class budget applies to classification",
                             fix="give numbers of labeled images or shares, e.g. --budgets 100 1000 or 10% 100%")
    labeled = cfg.labeled or cfg.data
    if not has_split(labeled, "test"):
        raise HeadstartError(f"{labeled} has no test split for the study to score on",
                             fix="use a YOLO folder whose data.yaml names a test: split, or images/ + masks/ with "
                             "train/, val/ and test/ sub-folders")
    return cfg.model_copy(update={"budgets": budgets})


def saved_or_planned(planned: Callable[[], StudyConfig], *, out: Path, resume: bool, overwrite: bool,
                     progress: bool, who: str = "demo") -> StudyConfig:
    """The plan (config) an earlier study saved in `out`, said so and resumed, else `planned()`: a re-run
    reads every finished part instead of planning anew and then reporting the old results under a new plan."""
    saved = out / "config.yaml"
    if resume and not overwrite and saved.is_file():
        print(f"{who}: re-using the plan and every finished part of the earlier run in {out} (pass --overwrite "
              "to plan and run anew)", flush=True)
        return from_yaml(StudyConfig, saved).model_copy(update={"resume": True, "overwrite": False,
                                                                 "progress": progress})
    return planned()


def starts(cfg: StudyConfig) -> list[str]:
    return ["scratch", "pretrained"] + (["baseline"] if cfg.baseline_weights else [])


def pretrain_stage(cfg: StudyConfig, rundir: Run) -> Path:
    """The pretraining run: `--from`, else `out/pretrain` (finished: reused; interrupted: resumed)."""
    if cfg.from_:
        if not Run(Path(cfg.from_)).backbone_file.is_file():
            raise HeadstartError(f"--from {cfg.from_} is not a finished pretraining run",
                                 fix="pass a run folder with exported/backbone.safetensors, or drop --from")
        return Path(cfg.from_)
    out = Run(rundir.path / "pretrain")
    if out.backbone_file.is_file():
        return out.path
    resume = out.last_checkpoint.is_file()
    _stage(f"pretraining {cfg.model} with {cfg.method}" + (" (resumed)" if resume else ""))
    kwargs = {"steps": cfg.pretrain_steps, "batch_size": cfg.batch_size, "image_size": cfg.image_size,
              **cfg.pretrain_args}
    pretrain(data=cfg.data, model=cfg.model, method=cfg.method, out=out.path, seed=cfg.seed,
                       resume=resume, overwrite=not resume, progress=cfg.progress,
                       val_data=cfg.test or _text_monitor(cfg), **{k: v for k, v in kwargs.items() if v is not None})
    return out.path


def finetune_kwargs(cfg: StudyConfig, start: str, pretrained: Path, budget: str) -> dict[str, Any]:
    steps = cfg.finetune_steps_by_budget.get(budget, cfg.finetune_steps)
    common = {"data": cfg.labeled or cfg.data, "steps": steps, **cfg.finetune_args}
    if cfg.task != "classify":
        common["task"] = cfg.task
    if cfg.test:
        common["test_data"] = cfg.test
    if cfg.image_size != "auto":
        common["image_size"] = cfg.image_size
    tokenizer = pretrained / "tokenizer"  # a text run's: from scratch reads text as the pretrained model does
    by_start = {"scratch": {"from_": "scratch", "model": cfg.model,
                            "tokenizer": str(tokenizer) if (tokenizer / "tokenizer.json").is_file() else None},
                "pretrained": {"from_": str(pretrained)},
                "baseline": {"from_": cfg.baseline_weights, "model": cfg.baseline_model or cfg.model}}
    return {k: v for k, v in {**common, **by_start[start]}.items() if v is not None}


def run_cells(cfg: StudyConfig, rundir: Run, cells: list[Cell], pretrained: Path) -> list[dict[str, Any]]:
    """Every cell, cached ones first; a nested progress display with the current cell and ETA."""
    records = []
    columns = [TextColumn("[bold]study[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.description}")]
    with Progress(*columns, disable=not cfg.progress, transient=False) as progress:
        task = progress.add_task("", total=len(cells))
        for cell in cells:
            semi = f"+{cell.semi}" if cell.semi else ""
            progress.update(task, description=f"{cell.start}/{cell.strategy}{semi} · {cell.budget} · seed {cell.seed}")
            records.append(run_cell(cell, rundir.path, finetune_kwargs(cfg, cell.start, pretrained, cell.budget),
                                    keep_checkpoints=cfg.keep_checkpoints))
            progress.advance(task)
    return records


def _text_monitor(cfg: StudyConfig) -> str | None:
    """Text pretraining's kNN monitor reads the labeled pool (an image study's monitor takes --test)."""
    labeled = cfg.labeled or cfg.data
    return labeled if cfg.task == "classify" and is_text_spec(labeled) and labeled != cfg.data else None


def _stage(text: str) -> None:
    Console(stderr=True).rule(f"[bold]{text}")


def print_summary(answer: str, all_curves: dict[str, list[dict[str, Any]]], frozen: dict[str, Any] | None,
                  out: Path, *, metric: str = "accuracy") -> None:
    budgets = sorted({p["budget"]: p["labels"] for v in all_curves.values() for p in v}.items(), key=lambda x: x[1])
    table = Table(title=f"test {metric}, mean ± 95% CI over seeds")
    table.add_column("start/strategy")
    for budget, labels in budgets:
        table.add_column(f"{budget}\n({labels:,} labels)", justify="right")
    for name, pts in all_curves.items():
        by = {p["budget"]: p for p in pts}
        table.add_row(name, *[format_point(by[b]) if b in by else "" for b, _ in budgets])
    console = Console()
    console.print(table)
    if frozen:
        console.print(f"frozen features, kNN (k={frozen['k']}, {frozen['bank']:,}-image labeled bank): pretrained "
                      f"{frozen['pretrained']:.1%} | same net, random weights {frozen['random']:.1%} | raw pixels "
                      f"{frozen['pixels']:.1%}")
    console.print(f"[bold]{answer}[/]")
    console.print(f"report: {out / 'report.html'}")
