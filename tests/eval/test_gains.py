"""The study's answer: curves, paired gains, conservative label savings, and choices made on validation."""

from __future__ import annotations

import math

import pytest

from headstart.eval.gains import (
    answer_line,
    choose,
    curves,
    describe,
    format_point,
    labels_to_match,
    paired_gains,
    saving,
    summarize,
)
from tests.eval.study_records import study_records

T_975_2 = 4.303   # Student t quantile, 0.975, 2 degrees of freedom


def _row(gains, curve, budget):
    return next(g for g in gains if g["curve"] == curve and g["budget"] == budget)


def test_curves__mean_and_interval_over_seeds():
    c = curves(study_records())
    assert list(c) == ["pretrained/full", "pretrained/linear", "pretrained/lp-ft", "scratch/full"]
    p = c["scratch/full"][1]                                   # 600 labels: 83.4 / 82.8 / 83.0
    assert (p["budget"], p["labels"], p["n"], p["seeds"]) == ("1%", 600, 3, [0, 1, 2])
    assert p["mean"] == pytest.approx(0.830667, abs=1e-6)
    assert p["ci"] == pytest.approx(T_975_2 * 0.0030551 / math.sqrt(3), rel=1e-3)
    assert p["val_mean"] == pytest.approx((0.817 + 0.800 + 0.833) / 3)
    assert format_point(p) == "83.1% ± 0.8%"


def test_curves__one_seed_has_no_interval():
    p = curves(study_records(seeds=1))["scratch/full"][0]
    assert p["n"] == 1 and p["ci"] is None and p["low"] is None and p["high"] is None
    assert format_point(p) == "65.2% (1 seed)"


def test_paired_gains__seeds_matched_and_narrower_than_the_arms():
    gains = paired_gains(study_records())
    assert len(gains) == 9                                     # 3 pretrained strategies x 3 budgets
    g = _row(gains, "pretrained/full", "1%")                   # d = 3.0, 3.1, 2.9 points
    assert g["gain"] == pytest.approx(0.030) and g["n"] == 3 and g["significant"] is True
    assert (g["high"] - g["low"]) / 2 == pytest.approx(T_975_2 * 0.001 / math.sqrt(3), rel=1e-3)
    arms = curves(study_records())
    assert (g["high"] - g["low"]) / 2 < min(arms["pretrained/full"][1]["ci"], arms["scratch/full"][1]["ci"]) / 2
    assert _row(gains, "pretrained/linear", "1%")["significant"] is False


def test_describe__significant_gain_states_the_paired_interval():
    g = _row(paired_gains(study_records()), "pretrained/full", "1%")
    assert describe(g) == ("at 600 labels, pretraining + full beats scratch by +3.0 points "
                           "(95% CI +2.8 to +3.2, 3 seeds; 86.1% vs 83.1%)")


def test_describe__not_significant_and_significant_loss():
    gains = paired_gains(study_records())
    assert describe(_row(gains, "pretrained/linear", "1%")) == (
        "no significant difference at 600 labels between pretraining + linear and scratch "
        "(-0.7 points, 95% CI -2.3 to +1.0, 3 seeds)")
    assert describe(_row(gains, "pretrained/linear", "10%")).startswith(
        "at 6,000 labels, pretraining + linear is worse than scratch by 2.6 points (95% CI -2.")


def test_answer__one_seed_gives_the_figure_without_an_interval():
    line = summarize(study_records(seeds=1), budget="1%")["answer"]
    assert line.startswith("at 600 labels, pretraining + full: +3.0 points over scratch "
                           "(1 seed: no interval; one seed cannot show significance)")
    assert "CI" not in line and "saves" not in line


def test_answer__not_significant_claims_no_gain_and_no_saving():
    records = study_records()
    # pretrained full at 1%: scratch + d, d = +1.2, -1.0, +0.4 points: mean 0.2, s = 1.114, 4.303 s / sqrt(3) = 2.77
    shift = {0: 0.012, 1: -0.010, 2: 0.004}
    scratch = {r["seed"]: r["accuracy"] for r in records if r["id"].startswith("scratch-full-1pct")}
    records = [r | {"accuracy": scratch[r["seed"]] + shift[r["seed"]]}
               if r["id"].startswith("pretrained-full-1pct") else r for r in records]
    line = summarize(records, budget="1%")["answer"]
    assert line.startswith("no significant difference at 600 labels between pretraining + full and scratch "
                           "(+0.2 points, 95% CI -2.6 to +3.0, 3 seeds)")
    assert "saves" not in line and "beats" not in line


def test_saving__supported_where_the_lower_bound_clears_scratch_upper_bound():
    c = curves(study_records())
    s = saving(c, "pretrained/full", "1%")
    low = c["pretrained/full"][1]["low"]                       # 86.07 - 0.72 = 85.35%
    h600, h6000 = c["scratch/full"][1]["high"], c["scratch/full"][2]["high"]   # 83.83%, 87.85%
    t = (low - h600) / (h6000 - h600)
    assert s["scratch_labels"] == round(600 * 10 ** t) == 1436 and s["relation"] == "="
    assert s["factor"] == pytest.approx(1436 / 600, rel=1e-3)
    line = summarize(study_records())["answer"]
    assert ("and saves at least 2.4x labels (its lower 95% bound, 85.3%, is above scratch's upper bound up to "
            "1,436 labels)") in line


def test_saving__not_supported_by_wide_intervals():
    c = curves(study_records(seeds=2))                         # t_{0.975,1} = 12.7: the intervals overlap
    assert saving(c, "pretrained/full", "1%") is None
    assert saving(curves(study_records(seeds=1)), "pretrained/full", "1%") is None   # no interval at all
    assert "saves" not in summarize(study_records(seeds=2))["answer"]


def test_labels_to_match__first_crossing_of_the_upper_bound_on_a_log_axis():
    scratch = [{"labels": 100, "high": 0.70}, {"labels": 1000, "high": 0.80}, {"labels": 10000, "high": 0.90}]
    n, rel = labels_to_match(scratch, 0.75)
    assert rel == "=" and n == pytest.approx(math.sqrt(100 * 1000))
    assert labels_to_match(scratch, 0.95) == (10000, ">")
    assert labels_to_match(scratch, 0.65) == (100, "<")


def test_choose__on_validation_not_test():
    records = study_records()
    at_600 = {r["strategy"]: 0.0 for r in records if r["start"] == "pretrained"}
    for r in records:
        if r["start"] == "pretrained" and r["budget"] == "1%":
            at_600[r["strategy"]] += r["accuracy"] / 3
    assert max(at_600, key=at_600.get) == "lp-ft"               # the test-best strategy at 600 labels...
    chosen = choose(paired_gains(records), budget="1%")
    assert chosen["curve"] == "pretrained/full"                # ...is not the one chosen: full wins on validation
    picked = choose(paired_gains(records))                     # budget by the surest validation gain
    assert (picked["curve"], picked["budget"]) == ("pretrained/full", "1%")
    assert summarize(records)["answer"].endswith("full and 600 labels chosen by validation accuracy")


def test_answer__without_validation_lists_every_cell():
    out = summarize(study_records(with_val=False))
    assert out["chosen"] is None
    line = out["answer"]
    assert line.startswith("every cell (no validation accuracy in the records, so nothing was picked): ")
    assert line.count("600 labels") == 3 and line.count("labels, pretraining + ") == 8   # 9 cells, 1 not significant
    assert "chosen by validation" not in line


def test_answer__warns_when_scratch_gets_worse_with_more_labels():
    records = [r | {"accuracy": r["accuracy"] - 0.05} if r["id"].startswith("scratch-full-10pct") else r
               for r in study_records()]
    assert "from scratch lost accuracy with more labels (at 10%)" in summarize(records)["answer"]
    assert "lost accuracy" not in summarize(study_records())["answer"]


def test_answer__no_pairs_no_answer():
    scratch_only = [r for r in study_records() if r["start"] == "scratch"]
    assert answer_line(curves(scratch_only), paired_gains(scratch_only), None).startswith("no answer")


def test_paired_gains__semi_supervised_cells_pair_with_scratch_under_the_same_recipe():
    # fixmatch adds 4.0 / 4.2 / 3.8 points to scratch and 1.2 / 0.8 / 1.1 to pretrained full, at 600 labels
    base = [r for r in study_records() if r["budget"] == "1%" and r["strategy"] == "full"]
    adds = {"scratch": [0.040, 0.042, 0.038], "pretrained": [0.012, 0.008, 0.011]}
    semi = [r | {"semi": "fixmatch", "accuracy": r["accuracy"] + adds[r["start"]][r["seed"]]} for r in base]
    gains = paired_gains(base + semi)
    pool = _row(gains, "scratch/full+fixmatch", "1%")              # what the unlabeled pool adds
    assert pool["baseline"] == "scratch/full" and pool["gain"] == pytest.approx(0.040)
    pre = _row(gains, "pretrained/full+fixmatch", "1%")             # what pretraining adds under fixmatch
    assert pre["baseline"] == "scratch/full+fixmatch" and pre["gain"] == pytest.approx(0.001 / 3)   # d: .2 -.3 .2
    assert describe(pool).startswith("at 600 labels, scratch + full + fixmatch beats scratch by +4.0 points")
    assert describe(pre).startswith("no significant difference at 600 labels between pretraining + full + "
                                    "fixmatch and scratch + fixmatch")


def test_summarize__fixed_budget_and_semi_answer_says_what_both_add_against_plain_scratch():
    base = [r for r in study_records() if r["budget"] == "1%" and r["strategy"] == "full"]
    adds = {"scratch": [0.020, 0.022, 0.018], "pretrained": [0.030, 0.031, 0.029]}
    vals = {"scratch": 0.01, "pretrained": 0.05}   # validation prefers pretrained + fixmatch over plain full
    semi = [r | {"semi": "fixmatch", "accuracy": r["accuracy"] + adds[r["start"]][r["seed"]],
                 "val_accuracy": r["val_accuracy"] + vals[r["start"]]} for r in base]
    summary = summarize(study_records() + semi, budget="1%")
    assert summary["chosen"]["curve"] == "pretrained/full+fixmatch" and summary["chosen"]["budget"] == "1%"
    # pretraining under fixmatch: 86.4+3.0 vs 83.4+2.0 etc. -> +4.0 / +4.0 / +3.9 points
    assert summary["answer"].startswith("at 600 labels, pretraining + full + fixmatch beats scratch + fixmatch by "
                                        "+4.0 points")
    together = summary["answer"].split("against plain from scratch: ")[1]
    assert together.startswith("at 600 labels, pretraining + full + fixmatch beats scratch by +6.0 points")
