"""`headstart demo`: the study on Fashion-MNIST, with lengths set from a quick timing of this
machine so the whole demo fits `--minutes` (default 12; the issue's bar is 15 on 2 CPU cores)."""

from __future__ import annotations

import time

import torch

from headstart.eval.study.config import DemoConfig, StudyConfig

MODEL, METHOD, BATCH = "headstart/resnet-mini", "simclr", 256
VIEWS = "light"  # measured on Fashion-MNIST: +1.2 kNN points over the paper views at 600 steps (recipes.light)
FT_BATCH = 64
BUDGETS = ["10/class", "1%", "10%"]
SEEDS, STRATEGIES = 2, ["linear", "lp-ft"]
PRETRAIN_SHARE = 0.5   # of the budget; the rest: fine-tuning cells, evaluation, report


def seconds_per_view(model: str = MODEL, batch: int = 128, size: int = 28) -> float:
    """Training cost of one image view here (forward + backward + step, bf16 autocast where native)."""
    from headstart.models import create_backbone

    backbone = create_backbone(model).to(memory_format=torch.channels_last)
    head = torch.nn.Linear(backbone.feature_dim, 128)
    opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()])
    x = torch.rand(batch, 1, size, size)
    bf16 = torch.cpu._is_avx512_bf16_supported()
    times = []
    for _ in range(4):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = head(backbone(x)).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return min(times[1:]) / batch


def plan(minutes: float) -> dict:
    """Pretraining and fine-tuning steps that fit `minutes` on this machine."""
    per_view = seconds_per_view()
    budget = minutes * 60
    pretrain_steps = int(PRETRAIN_SHARE * budget / (per_view * BATCH * 2 * 1.25))   # 2 views; 25% for views/overhead
    cells = len(BUDGETS) * SEEDS * (1 + len(STRATEGIES))
    per_cell = (1 - PRETRAIN_SHARE) * budget * 0.6 / cells                      # 40% for start-up and evaluation
    finetune_steps = int(per_cell / (per_view * FT_BATCH * 1.3))
    return {"pretrain_steps": max(50, pretrain_steps), "finetune_steps": max(30, finetune_steps),
            "seconds_per_view": per_view}


def run(cfg: DemoConfig):
    from headstart.eval.study.runner import run as run_study

    sizes = plan(cfg.minutes)
    print(f"demo: {sizes['seconds_per_view'] * 1e3:.2f} ms per training view here -> pretraining "
          f"{sizes['pretrain_steps']} steps, {sizes['finetune_steps']} fine-tuning steps per cell")
    study = StudyConfig(
        data="fashion-mnist", test="fashion-mnist:test", model=MODEL, method=METHOD, budgets=BUDGETS, seeds=SEEDS,
        strategies=STRATEGIES, pretrain_steps=sizes["pretrain_steps"], finetune_steps=sizes["finetune_steps"],
        batch_size=BATCH, finetune_args={"batch_size": FT_BATCH}, pretrain_args={"method_args": {"views": VIEWS}},
        out=cfg.out, seed=cfg.seed,
        resume=cfg.resume and (cfg.out / "config.yaml").is_file() and not cfg.overwrite, overwrite=cfg.overwrite,
        progress=cfg.progress)
    return run_study(study)
