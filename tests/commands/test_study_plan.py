"""The study's plan: label budgets, the cells of the ladder, and the demo's sizes for its time budget."""

from __future__ import annotations

import pytest

from headstart.commands.study.cells import budget_args, plan_cells
from headstart.errors import HeadstartError


def test_budgets_and_cells():
    assert budget_args("10/class") == {"per_class": 10}
    assert budget_args("1%") == {"labels": "1%"} and budget_args("100%") == {}
    with pytest.raises(HeadstartError, match="bad label budget"):
        budget_args("lots")
    cells = plan_cells(["scratch", "pretrained"], ["linear", "lp-ft"], ["1%"], [0, 1])
    assert len(cells) == 6 and {c.strategy for c in cells if c.start == "scratch"} == {"full"}
    assert len({c.id for c in cells}) == 6


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
