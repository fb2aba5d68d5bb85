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


def test_plan_cells__semi_doubles_every_trainable_cell_but_not_linear():
    cells = plan_cells(["scratch", "pretrained"], ["linear", "full"], ["1%"], [0, 1, 2], ["fixmatch"])
    semi = [c for c in cells if c.semi]
    assert len(cells) == 3 * (3 + 2) and len(semi) == 3 * 2
    assert {c.strategy for c in semi} == {"full"} and {c.start for c in semi} == {"scratch", "pretrained"}
    assert len({c.id for c in cells}) == len(cells) and "pretrained-full+fixmatch-1pct-s2" in {c.id for c in cells}


def test_demo_plan__the_fixed_plan_fits_the_minutes(monkeypatch):
    from headstart.commands import demo as demo_plan

    monkeypatch.setattr(demo_plan, "seconds_per_view", lambda: 0.6e-3)   # this machine, quiet, resnet-mini
    for method in demo_plan.VIEWS_PER_IMAGE:
        sizes = demo_plan.plan(14, method)
        pretrain_s = sizes["pretrain_steps"] * 0.6e-3 * demo_plan.BATCH * demo_plan.VIEWS_PER_IMAGE[method]
        units = 2 * (demo_plan.SUPERVISED_STEP + demo_plan.SEMI_STEP)   # scratch + pretrained, plain + fixmatch
        cells_s = demo_plan.SEEDS * sizes["finetune_steps"] * 0.6e-3 * demo_plan.FT_BATCH * units
        overhead_s = demo_plan.FIXED_S + demo_plan.SEEDS * 4 * demo_plan.CELL_OVERHEAD_S
        assert pretrain_s + cells_s + overhead_s == pytest.approx(14 * 60, rel=0.02)


def test_demo__a_rerun_reuses_the_saved_plan_and_says_so(tmp_path, capsys):
    from headstart.commands.study.runner import saved_or_planned
    from headstart.config import to_yaml
    from headstart.eval.study.config import StudyConfig

    earlier = StudyConfig(data="fashion-mnist", budgets=["1%"], semi="fixmatch", answer_budget="1%",
                          finetune_steps=123, out=tmp_path)
    (tmp_path / "config.yaml").write_text(to_yaml(earlier))

    def new_plan():
        raise AssertionError("a re-run must not plan anew")

    cfg = saved_or_planned(new_plan, out=tmp_path, resume=True, overwrite=False, progress=False)
    assert cfg.finetune_steps == 123 and cfg.semi == "fixmatch" and cfg.resume and not cfg.progress
    assert "re-using the plan and every finished part of the earlier run" in capsys.readouterr().out
    fresh = StudyConfig(data="fashion-mnist", out=tmp_path, finetune_steps=7)
    assert saved_or_planned(lambda: fresh, out=tmp_path, resume=True, overwrite=True, progress=False) is fresh
