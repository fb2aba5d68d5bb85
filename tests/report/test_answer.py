"""The study's answer from cell results: aggregation, label savings, one line."""

from __future__ import annotations

import pytest

from headstart.commands.study.cells import budget_args, plan_cells
from headstart.errors import HeadstartError
from headstart.eval.gains import curves, labels_needed, one_line, savings


def _records():
    # scratch reaches 70/80/88% at 100/600/6000 labels; pretrained 80/85/89%
    table = {"scratch": [0.70, 0.80, 0.88], "pretrained": [0.80, 0.85, 0.89]}
    out = []
    for start, accs in table.items():
        for (budget, n), acc in zip([("10/class", 100), ("1%", 600), ("10%", 6000)], accs):
            for seed, jitter in enumerate([-0.01, 0.0, 0.01]):
                out.append({"start": start, "strategy": "full" if start == "scratch" else "lp-ft", "budget": budget,
                            "seed": seed, "labels": n, "accuracy": acc + jitter, "seconds": 1.0})
    return out


def test_curves__mean_and_ci_over_seeds():
    c = curves(_records())
    assert list(c) == ["pretrained/lp-ft", "scratch/full"]
    p = c["scratch/full"][1]
    assert p["budget"] == "1%" and p["labels"] == 600
    assert p["mean"] == pytest.approx(0.80)
    assert p["ci"] == pytest.approx(4.303 * 0.01 / 3 ** 0.5, rel=1e-3)   # t(0.975, 2) * s / sqrt(n)


def test_labels_needed__log_interpolation():
    scratch = curves(_records())["scratch/full"]
    n, rel = labels_needed(scratch, 0.84)           # halfway between 600 (80%) and 6000 (88%) on log scale
    assert rel == "=" and n == pytest.approx((600 * 6000) ** 0.5, rel=1e-6)
    assert labels_needed(scratch, 0.95) == (6000, ">")


def test_savings_and_one_line():
    rows = savings(curves(_records()))
    assert [r["budget"] for r in rows] == ["10/class", "1%", "10%"]
    assert rows[0]["factor"] == pytest.approx(6.0)      # 80% from scratch needs 600 labels: 6x the 100 used
    line = one_line(rows)
    assert line.startswith("pretraining saves") and "x labels" in line


def test_one_line__says_when_pretraining_loses():
    recs = [r | {"accuracy": r["accuracy"] - 0.2} if r["start"] == "pretrained" else r for r in _records()]
    assert one_line(savings(curves(recs))).startswith("pretraining did not beat")


def test_budgets_and_cells():
    assert budget_args("10/class") == {"per_class": 10}
    assert budget_args("1%") == {"labels": "1%"} and budget_args("100%") == {}
    with pytest.raises(HeadstartError, match="bad label budget"):
        budget_args("lots")
    cells = plan_cells(["scratch", "pretrained"], ["linear", "lp-ft"], ["1%"], [0, 1])
    assert len(cells) == 6 and {c.strategy for c in cells if c.start == "scratch"} == {"full"}
    assert len({c.id for c in cells}) == 6


def test_one_line__warns_when_scratch_gets_worse_with_more_labels():
    # the first demo's shape: scratch 65/78.5/78.3% (cut off at 6,000 labels), pretrained above it
    table = {"scratch": [0.65, 0.785, 0.783], "pretrained": [0.685, 0.789, 0.847]}
    recs = [r | {"accuracy": table[r["start"]][["10/class", "1%", "10%"].index(r["budget"])] + (r["seed"] - 1) / 100}
            for r in _records()]
    line = one_line(savings(curves(recs)))
    assert "from scratch lost accuracy with more labels (at 10%)" in line and "--finetune-steps" in line
    assert "lost accuracy" not in one_line(savings(curves(_records())))


def test_demo_plan__bigger_budgets_get_more_steps_and_the_total_fits(monkeypatch):
    from headstart.commands import demo as demo_plan

    monkeypatch.setattr(demo_plan, "seconds_per_view", lambda: 0.6e-3)   # this machine, quiet, resnet-mini
    sizes = demo_plan.plan(12)
    steps = sizes["finetune_steps"]
    assert list(steps) == demo_plan.BUDGETS and steps["10/class"] < steps["1%"] < steps["10%"]
    assert steps["10%"] / steps["1%"] == pytest.approx(10 ** 0.5, rel=0.02)
    pretrain_s = sizes["pretrain_steps"] * 0.6e-3 * demo_plan.BATCH * 2 + demo_plan.FIXED_S
    step_s = 0.6e-3 * demo_plan.FT_BATCH * 1.3
    cells_s = demo_plan.SEEDS * sum(n * step_s * (2 + demo_plan.LINEAR_STEP_COST) for n in steps.values())
    overhead_s = len(demo_plan.BUDGETS) * demo_plan.SEEDS * 3 * demo_plan.CELL_OVERHEAD_S
    assert pretrain_s + cells_s + overhead_s == pytest.approx(12 * 60, rel=0.02)
