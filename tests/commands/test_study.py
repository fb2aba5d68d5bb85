"""A tiny real study end to end, its resume, and its report rendered in headless Chromium."""

from __future__ import annotations

import json

import pytest

from tests.report.chromium import dump_dom


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, fmnist_folder, fmnist_test, folder_writer):
    import headstart

    test_folder = folder_writer(tmp_path_factory.mktemp("fm-test"), fmnist_test, 40, [0, 1, 7, 9])
    out = tmp_path_factory.mktemp("study") / "s"
    result = headstart.study(data=str(fmnist_folder), test=str(test_folder), budgets=["5/class", "20/class"],
                             seeds=2, strategies=["linear"], pretrain_steps=4, finetune_steps=6, batch_size=32,
                             finetune_args={"batch_size": 16}, out=out, progress=False,
                             pretrain_args={"monitor": False})
    return result, test_folder


def test_study__cells_answer_and_figures(study_run):
    result, _ = study_run
    results = json.loads((result.run / "results.json").read_text())
    assert len(results["cells"]) == 8                                  # 2 budgets x 2 seeds x (scratch, linear)
    assert set(results["curves"]) == {"scratch/full", "pretrained/linear"}
    for pts in results["curves"].values():
        assert [p["labels"] for p in pts] == [20, 80]                   # 5 and 20 per class, 4 classes
        assert all(0.0 <= v <= 1.0 for p in pts for v in p["values"]) and all(len(p["values"]) == 2 for p in pts)
    assert results["answer"] == result.answer and "chosen by validation accuracy" in result.answer
    assert all(0.0 <= c["val_accuracy"] <= 1.0 for c in results["cells"])
    gains = results["gains"]                                           # pretrained/linear - scratch, per budget
    assert [(g["curve"], g["labels"], g["n"]) for g in gains] == [("pretrained/linear", 20, 2),
                                                                    ("pretrained/linear", 80, 2)]
    assert all(g["low"] <= g["gain"] <= g["high"] for g in gains)
    frozen = results["frozen_knn"]                                     # 320-image pool bank, 160 test queries
    assert (frozen["bank"], frozen["queries"]) == (320, 160)
    assert frozen["pixels"] > 0.85                                     # 4 well-separated classes, real images
    assert all(0.25 <= frozen[k] <= 1.0 for k in ("pretrained", "random"))
    assert "Frozen features before fine-tuning" in (result.run / "report.html").read_text()
    for name in ("paired_gain", "label_efficiency", "pretraining", "confusion", "embeddings"):
        assert (result.run / "plots" / f"{name}.png").stat().st_size > 5_000, name


def test_study__resume_reuses_finished_cells(study_run, fmnist_folder):
    import headstart

    result, test_folder = study_run
    cells = result.run / "cells"
    before = {p.name: p.stat().st_mtime_ns for p in cells.iterdir()}
    redo = min(before)
    (cells / redo).unlink()                                     # as if interrupted before this cell
    headstart.study(data=str(fmnist_folder), test=str(test_folder), budgets=["5/class", "20/class"], seeds=2,
                    strategies=["linear"], finetune_steps=6, finetune_args={"batch_size": 16}, out=result.run,
                    resume=True, progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in cells.iterdir()}
    assert set(after) == set(before)                             # the missing cell was computed again
    assert all(after[k] == before[k] for k in before if k != redo)  # finished cells were not


def test_study__semi_cells_fixed_answer_budget_and_no_leftover_checkpoints(study_run, fmnist_folder, tmp_path):
    import headstart

    result, test_folder = study_run
    out = tmp_path / "semi"
    semi = headstart.study(data=str(fmnist_folder), test=str(test_folder), from_=str(result.run / "pretrain"),
                           budgets=["5/class", "20/class"], seeds=1, strategies=["full"], semi="fixmatch",
                           answer_budget="5/class", finetune_steps=4, finetune_args={"batch_size": 8},
                           out=out, progress=False)
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert sorted(c["id"] for c in cells if c["budget"] == "5/class") == [
        "pretrained-full+fixmatch-5pc-s0", "pretrained-full-5pc-s0", "scratch-full+fixmatch-5pc-s0",
        "scratch-full-5pc-s0"]
    assert {c["semi"] for c in cells} == {None, "fixmatch"}
    assert "at 20 labels" in semi.answer and "80 labels" not in semi.answer.split(";")[0]   # the fixed budget
    runs = [out / "finetune" / c["id"] for c in cells]
    assert all((r / "results.json").is_file() and not (r / "checkpoints").exists() for r in runs)


def test_report__renders_in_headless_chromium(study_run, tmp_path):
    result, _ = study_run
    dom = dump_dom(result.run / "report.html", tmp_path / "profile")
    assert 'data-images-ok="yes"' in dom, dom[:500]
    assert 'data-images="8"' in dom                              # 6 + the bias section's per-class and reliability


def test_study__bias_section_scratch_vs_pretrained_at_the_smallest_budget(study_run):
    result, _ = study_run
    results = json.loads((result.run / "results.json").read_text())
    assert all(c["test_probs"].endswith("test_probs.npz") for c in results["cells"])
    bias = json.loads((result.run / "bias.json").read_text())
    assert bias["study"] | {"val_gain": None} == {"curve": "pretrained/linear", "baseline": "scratch/full",
                                                    "budget": "5/class", "labels": 20, "seeds": [0, 1],
                                                    "val_gain": None}
    assert bias["n"] == 2 * 160                                  # 160 test images, both seeds pooled
    classes = {"T-shirt-top", "Trouser", "Sneaker", "Ankle boot"}
    assert bias["worst_class"] in classes and bias["baseline"]["worst_class"] in classes
    for arm in (bias, bias["baseline"]):
        assert 0 <= arm["calibration"]["ece"] <= 1 and sum(b["count"] for b in arm["calibration"]["bins"]) == 320
    text = (result.run / "report.html").read_text()
    assert "Per class and calibration: from scratch vs pretrained" in text
    assert f"worst class from scratch {bias['baseline']['worst_class']}" in text
    assert f"{100 * bias['calibration']['ece']:.1f}% pretrained" in text
