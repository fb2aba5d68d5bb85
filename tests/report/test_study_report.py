"""The study's report page from a realistic record set: gain plot, terms, frozen figures, choices on validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from headstart.eval.gains import summarize
from headstart.report.study import TERMS, write_report
from tests.eval.study_records import study_records
from tests.report.chromium import dump_dom

# kNN figures of the README's demo: 60,000-image bank, 10,000 test queries
FROZEN = {"bank": 60000, "queries": 10000, "k": 20, "pretrained": 0.850, "random": 0.833, "pixels": 0.846}
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# where Fashion-MNIST's errors go: tops and shirts into each other, shoes into shoes
CONFUSED = {0: 6, 1: 3, 2: 4, 3: 0, 4: 2, 5: 7, 6: 0, 7: 9, 8: 0, 9: 7}
RIGHT = [0.83, 0.96, 0.78, 0.87, 0.80, 0.94, 0.60, 0.93, 0.96, 0.95]


def confusion_matrix() -> list[list[int]]:
    """1,000 test images a class: RIGHT on the diagonal, 70% of the rest into the CONFUSED class."""
    m = np.zeros((10, 10), dtype=int)
    for i, acc in enumerate(RIGHT):
        wrong = 1000 - round(1000 * acc)
        m[i, i] = 1000 - wrong
        m[i, CONFUSED[i]] += round(0.7 * wrong)
        others = [j for j in range(10) if j not in (i, CONFUSED[i])]
        rest = wrong - round(0.7 * wrong)
        for k, j in enumerate(others):
            m[i, j] += rest // len(others) + (k < rest % len(others))
    return m.tolist()


def write_cell_runs(root: Path, records: list[dict]) -> None:
    """results.json (with a confusion matrix) and metrics.csv for every cell, as fine-tuning writes them."""
    for r in records:
        run = Path(r["run"])
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps({"accuracy": r["accuracy"], "classes": CLASSES,
                                                      "confusion": confusion_matrix()}))
        rows = ["step,train/loss_step,val/acc"] + [f"{s},{2.3 * 0.8 ** (s / 10):.4f},{min(r['accuracy'], s / 60):.4f}"
                                                    for s in range(0, 60, 6)]
        (run / "metrics.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def report(tmp_path_factory, pretrained_run):
    root = tmp_path_factory.mktemp("study")
    records = study_records(run_root=str(root))
    write_cell_runs(root, records)
    results = summarize(records) | {"cells": records, "frozen_knn": FROZEN}
    page = write_report(out=root, results=results, pretrained=pretrained_run, title="headstart study: test",
                        test_data="fashion-mnist:test")
    return page, results


def test_report__has_the_paired_gain_plot_and_table(report):
    page, _ = report
    text = page.read_text()
    assert "Paired gain over from scratch, per budget" in text
    assert (page.parent / "plots" / "paired_gain.png").stat().st_size > 10_000
    assert "Paired gain of each pretrained strategy over from scratch" in text          # the figure's caption
    assert "+2.8 to +3.2" in text and "none (1 seed)" not in text                      # pretrained/full at 600


def test_report__explains_every_term_and_how_figures_were_chosen(report):
    text = report[0].read_text()
    for term, _ in TERMS:                     # "+ semi" / "tfidf/logreg" only when a cell used it
        assert (f"<dt>{term}</dt>" in text) is (term not in ("+ semi", "tfidf/logreg"))
    assert "10,000 labeled training images" in text and "up to 60,000" in text        # the two kNN banks
    assert "chosen on validation accuracy" in text and "Test accuracy played no part" in text


def test_report__prints_the_frozen_knn_figures(report):
    text = report[0].read_text()
    assert "Frozen features before fine-tuning (kNN)" in text
    assert all(f in text for f in ("85.0%", "83.3%", "84.6%", "60,000 labeled images", "10,000 test images"))


def test_report__no_frozen_section_without_figures(report, tmp_path):
    page, results = report
    again = write_report(out=tmp_path, results=results | {"frozen_knn": None}, pretrained=page.parent / "none",
                         title="t", test_data=None)
    assert "Frozen features" not in again.read_text()


def test_report__confusion_of_the_model_chosen_on_validation(report):
    page, results = report
    assert results["chosen"]["curve"] == "pretrained/full"      # lp-ft is better on test at 600 labels
    text = page.read_text()
    assert "pretrained/full, 600 labels, seed 2: test 85.9%, validation 88.3%" in text   # seed 2: best validation
    assert (page.parent / "plots" / "confusion.png").stat().st_size > 10_000


def test_report__renders_every_image_in_headless_chromium(report, tmp_path):
    dom = dump_dom(report[0], tmp_path / "profile")
    assert 'data-images-ok="yes"' in dom, dom[:500]
    # paired gain, label efficiency, confusion, pretraining, fine-tuning, embeddings
    assert 'data-images="6"' in dom
