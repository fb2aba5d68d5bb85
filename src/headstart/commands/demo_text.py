"""`headstart demo --text`: the text study — bert-mini pretrained by masked-language modelling on the
unlabeled fortunes corpus (8 languages), fine-tuned on the 12-topic task (`fortunes-topic`) at 10 and
50 labels per class from scratch and pretrained (linear, lp-ft), against TF-IDF + logistic
regression on the same labels — with lengths set from a quick timing of this machine so the whole
demo fits `--minutes` (the issue's bar: 15 on 2 CPU cores).
"""

from __future__ import annotations

import time

import torch

from headstart.commands._pretrain_text import MONITOR_TIMES
from headstart.commands.study import run as run_study
from headstart.commands.study.runner import saved_or_planned
from headstart.eval.study.config import DemoConfig, StudyConfig
from headstart.methods.text import set_dropout
from headstart.models.text import create_text_backbone
from headstart.train.trainer import resolve_precision

MODEL, METHOD, DATA, LABELED = "headstart/bert-mini", "mlm", "fortunes", "fortunes-topic"
BATCH, SEQ_LEN = 64, 64  # fortunes are short: 64-token windows waste little of a packed sequence
FT_BATCH, FT_SEQ_LEN = 32, 128
BUDGETS, SEEDS, STRATEGIES = ["10/class", "50/class"], 3, ["linear", "lp-ft"]
FT_STEPS = {"10/class": 120, "50/class": 240}  # ~40 / ~15 passes over the 108 / 540 training texts
PRETRAIN_SHARE = 0.55  # of the budget; the rest: tokenizer, fine-tuning cells, TF-IDF, report
# Fixed costs in training tokens' time, so they scale with the machine as the training does: calibrated on a
# 2-core machine at 161 µs a token (150 s and 20 s); on one at 81 µs the demo's fixed part took 30 s and a
# cell's overhead 8 s, well inside these.
FIXED_TOKENS = 930_000  # reading and tokenizing the corpus, training its tokenizer, start-up, report
CELL_OVERHEAD_TOKENS = 124_000  # per fine-tuning cell: tokenize, probe, test split, forgetting (perplexity)
LINEAR_STEP_COST = 0.4  # a frozen-backbone step vs a full one
MIN_PRETRAIN_STEPS, MIN_FT_STEPS = 50, 30
FT_TOKEN_COST = 1.0  # a fine-tuning token vs a pretraining one (measured in the demo: ~0.25 s a 30-step cell's step)
# One measurement of the pretraining monitor (perplexity on the held-out windows, kNN on a 10k bank and
# 2k queries), in training tokens' time: 12.9 s at 161 µs a token in the demo's run (192 steps took 269 s,
# 127 s of them training), so the plan left out 2.4 minutes; the run makes MONITOR_TIMES + 1 of them.
MONITOR_TOKENS = 80_000


def seconds_per_token(batch: int = BATCH, seq_len: int = SEQ_LEN) -> float:
    """Training cost of one token of bert-mini here as MLM pretraining trains it (no dropout, the vocabulary
    head on the 15% chosen positions, the run's auto precision; forward, backward, AdamW), after warm-up."""
    backbone = create_text_backbone(MODEL)
    set_dropout(backbone.module, 0.0)
    head = torch.nn.Linear(backbone.feature_dim, backbone.meta.extra["vocab_size"])
    opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()])
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 8000, (batch, seq_len), generator=g)
    chosen = torch.rand(batch, seq_len, generator=g) < 0.15
    bf16 = resolve_precision("auto", "cpu") == "bf16-mixed"
    times = []
    for _ in range(5):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = head(backbone.forward_features(ids)[chosen])
        torch.nn.functional.cross_entropy(logits.float(), ids[chosen]).backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return sorted(times[2:])[1] / (batch * seq_len)


def plan(minutes: float) -> dict:
    """Pretraining steps that fit the budget's pretraining share (less where the smallest fine-tuning plan
    needs the room); fine-tuning steps fixed per budget, cut to what the rest holds, never under
    `MIN_FT_STEPS`. `estimated_s`: what the plan should take here; above the budget on a slow machine,
    where even the smallest plan does not fit."""
    per_token = seconds_per_token()
    budget = minutes * 60
    cells = len(BUDGETS) * SEEDS * (1 + len(STRATEGIES))
    units = SEEDS * (1 + sum(LINEAR_STEP_COST if s == "linear" else 1.0 for s in STRATEGIES))
    per_step = per_token * FT_BATCH * FT_SEQ_LEN / 2 * FT_TOKEN_COST  # texts fill about half of 128 tokens
    pretrain_step = per_token * BATCH * SEQ_LEN
    monitor = (MONITOR_TIMES + 1) * MONITOR_TOKENS * per_token  # the pretraining run's monitor
    fixed = FIXED_TOKENS * per_token
    overhead = fixed + cells * CELL_OVERHEAD_TOKENS * per_token + monitor
    smallest = MIN_FT_STEPS * len(FT_STEPS) * per_step * units
    pretrain_steps = max(MIN_PRETRAIN_STEPS, int(min(PRETRAIN_SHARE * budget - fixed - monitor,
                                                     budget - overhead - smallest) / pretrain_step))
    train_s = max(0.0, budget - overhead - pretrain_steps * pretrain_step)
    fits = min(1.0, train_s / per_step / units / sum(FT_STEPS.values()))
    steps = {b: max(MIN_FT_STEPS, int(n * fits)) for b, n in FT_STEPS.items()}
    while sum(steps.values()) * per_step * units > train_s and max(steps.values()) > MIN_FT_STEPS:  # floors took room
        fits *= 0.95
        steps = {b: max(MIN_FT_STEPS, int(n * fits)) for b, n in FT_STEPS.items()}
    estimated = overhead + pretrain_steps * pretrain_step + sum(steps.values()) * per_step * units
    return {"pretrain_steps": pretrain_steps, "finetune_steps": steps, "seconds_per_token": per_token,
            "estimated_s": estimated}


def study_plan(cfg: DemoConfig) -> StudyConfig:
    sizes = plan(cfg.minutes)
    print(f"demo --text: {sizes['seconds_per_token'] * 1e6:.0f} µs per training token here -> pretraining "
          f"{sizes['pretrain_steps']} steps; fine-tuning steps per cell: "
          + ", ".join(f"{b} {n}" for b, n in sizes["finetune_steps"].items())
          + f"; about {sizes['estimated_s'] / 60:.0f} minutes")
    if sizes["estimated_s"] > cfg.minutes * 60 * 1.05:
        print(f"demo --text: this machine needs about {sizes['estimated_s'] / 60:.0f} minutes for the smallest plan "
              f"({SEEDS} seeds, {MIN_FT_STEPS} fine-tuning steps a cell), more than --minutes {cfg.minutes:g}")
    return StudyConfig(
        data=DATA, labeled=LABELED, model=MODEL, method=METHOD, budgets=BUDGETS, seeds=SEEDS, strategies=STRATEGIES,
        pretrain_steps=sizes["pretrain_steps"], finetune_steps_by_budget=sizes["finetune_steps"], batch_size=BATCH,
        pretrain_args={"seq_len": SEQ_LEN}, finetune_args={"batch_size": FT_BATCH, "seq_len": FT_SEQ_LEN},
        out=cfg.out, seed=cfg.seed, resume=False, overwrite=cfg.overwrite, progress=cfg.progress)


def run(cfg: DemoConfig):
    return run_study(saved_or_planned(lambda: study_plan(cfg), out=cfg.out, resume=cfg.resume,
                                      overwrite=cfg.overwrite, progress=cfg.progress, who="demo --text"))
