"""`headstart demo --text`: the plan sized from this machine's timing fits the minutes given, and
the demo is the text study (fortunes -> fortunes-topic, bert-mini MLM, TF-IDF beside it)."""

from __future__ import annotations

import pytest

from headstart.commands import demo, demo_text
from headstart.eval.study.config import DemoConfig


def estimated_seconds(sizes: dict) -> float:
    t = sizes["seconds_per_token"]
    pretrain = sizes["pretrain_steps"] * t * demo_text.BATCH * demo_text.SEQ_LEN
    per_step = t * demo_text.FT_BATCH * demo_text.FT_SEQ_LEN / 2 * demo_text.FT_TOKEN_COST
    units = demo_text.SEEDS * (1 + sum(demo_text.LINEAR_STEP_COST if s == "linear" else 1.0
                                       for s in demo_text.STRATEGIES))
    cells = len(demo_text.BUDGETS) * demo_text.SEEDS * (1 + len(demo_text.STRATEGIES))
    finetune = sum(sizes["finetune_steps"].values()) * per_step * units
    monitor = (demo_text.MONITOR_TIMES + 1) * demo_text.MONITOR_TOKENS * t
    overhead = (demo_text.FIXED_TOKENS + cells * demo_text.CELL_OVERHEAD_TOKENS) * t
    return overhead + pretrain + monitor + finetune


@pytest.mark.parametrize("seconds_per_token", [2e-5, 8e-5, 1.3e-4])  # 2-core machines: 0.8-1.7e-4
def test_demo_text_plan__fits_the_minutes(monkeypatch, seconds_per_token):
    monkeypatch.setattr(demo_text, "seconds_per_token", lambda: seconds_per_token)
    sizes = demo_text.plan(15.0)
    assert estimated_seconds(sizes) == pytest.approx(sizes["estimated_s"])
    assert estimated_seconds(sizes) <= 15 * 60 * 1.01
    assert set(sizes["finetune_steps"]) == set(demo_text.BUDGETS)


def test_demo_text_plan__the_pretraining_monitor_takes_its_share(monkeypatch):
    monkeypatch.setattr(demo_text, "seconds_per_token", lambda: 1.6e-4)  # this machine, quiet
    with_monitor = demo_text.plan(15.0)
    monkeypatch.setattr(demo_text, "MONITOR_TOKENS", 0)
    without = demo_text.plan(15.0)
    tokens = demo_text.BATCH * demo_text.SEQ_LEN
    freed = (demo_text.MONITOR_TIMES + 1) * 80_000 / tokens  # the monitor's time in pretraining steps
    assert without["pretrain_steps"] - with_monitor["pretrain_steps"] == pytest.approx(freed, abs=1)


def test_demo_text_plan__a_machine_too_slow_for_the_smallest_plan_is_told(monkeypatch, capsys):
    monkeypatch.setattr(demo_text, "seconds_per_token", lambda: 6e-4)
    sizes = demo_text.plan(15.0)
    assert sizes["finetune_steps"] == dict.fromkeys(demo_text.BUDGETS, demo_text.MIN_FT_STEPS)
    assert sizes["pretrain_steps"] == demo_text.MIN_PRETRAIN_STEPS and sizes["estimated_s"] > 15 * 60
    demo_text.study_plan(DemoConfig(text=True, minutes=15.0))
    assert "needs about" in capsys.readouterr().out


def test_demo_text_plan__a_faster_machine_pretrains_longer(monkeypatch):
    steps = []
    for t in (1e-4, 5e-5):
        monkeypatch.setattr(demo_text, "seconds_per_token", lambda t=t: t)
        steps.append(demo_text.plan(15.0)["pretrain_steps"])
    assert steps[1] > 1.9 * steps[0]


def test_demo__text_flag_runs_the_text_study(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(demo_text, "seconds_per_token", lambda: 1e-4)
    monkeypatch.setattr(demo_text, "run_study", lambda cfg: seen.setdefault("cfg", cfg))
    demo.run(DemoConfig(out=tmp_path / "demo", text=True, progress=False))
    cfg = seen["cfg"]
    assert (cfg.data, cfg.labeled, cfg.model, cfg.method) == ("fortunes", "fortunes-topic", "headstart/bert-mini", "mlm")
    assert cfg.budgets == ["10/class", "50/class"] and cfg.finetune_args["seq_len"] == demo_text.FT_SEQ_LEN
