"""`headstart finetune --task detect|segment`: read top to bottom — open the run, read the boxes or
masks, resolve the plan (`_finetune_resolve`, shared with classification), build backbone + head
and strategy, train, then merge, measure (mAP / mIoU on validation and test) and export.

    headstart finetune --from runs/r18 --data ./yolo_dataset --task detect --out runs/det
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.dense_infer import score_dense
from headstart.adapt.dense_model import DenseModel, save_dense
from headstart.adapt.dense_module import DenseModule, DenseSettings
from headstart.adapt.infer import default_device
from headstart.adapt.strategies import strategy_class
from headstart.adapt.strategies.base import Context, Strategy, count_params, set_trainable
from headstart.commands._finetune_finish import measure_forgetting
from headstart.commands._finetune_resolve import Init, refuse_classify_only, resolve, resolve_init
from headstart.config import to_yaml
from headstart.data.dense.dataset import DenseSet, collate_dense
from headstart.data.dense.sources import has_split, open_dense
from headstart.data.subsets import parse_budget
from headstart.errors import HeadstartError
from headstart.eval.gains import METRIC_NAMES
from headstart.export.weights import backbone_state, save_backbone
from headstart.models.factory import create_backbone
from headstart.run import Run, open_run
from headstart.train.callbacks import Throughput
from headstart.train.compiling import compile_backbone
from headstart.train.distributed import is_rank_zero, world_size
from headstart.train.loader import ResumableLoader
from headstart.train.module import Plan
from headstart.train.trainer import build_trainer, checkpoint_step

DENSE_STRATEGIES = ("full", "linear", "lora", "freeze")
CLASSIFY_ONLY = {"per_class": None, "indices": None, "blend": None, "balance": "none", "self_train": 0,
                 "semi": "none", "early_stopping": None, "test_data": None}


@dataclass
class DenseSplits:
    train: DenseSet
    val: DenseSet
    test: DenseSet | None
    classes: list[str]


@dataclass
class DenseResult:
    run: Path
    task: str
    strategy: str
    scores: dict  # map50 / map (detect) or miou (segment), on test when there is one, else validation
    steps: int
    seconds: float
    scored_on: str = "val"        # "test" when the data has a test split
    trainable_share: float = 1.0
    forgetting: dict | None = None  # kNN on the pretraining data before/after, when measured


def summary(r: DenseResult) -> str:
    """The one line `finetune --task detect|segment` prints."""
    scores = ", ".join(f"{r.scored_on} {METRIC_NAMES[k]} " + (f"{v:.1%}" if v is not None else "n/a (no objects)")
                       for k, v in r.scores.items())
    f = r.forgetting or {}
    forgot = f", forgetting kNN {f['before']:.1%} -> {f['after']:.1%}" if "before" in f else ""
    return (f"{r.strategy}: {scores}{forgot}, {r.trainable_share:.1%} of parameters trained; {r.steps} steps in "
            f"{r.seconds:.0f} s -> {r.run}")


def run(cfg: FinetuneConfig) -> DenseResult:
    start = time.perf_counter()
    check_options(cfg)
    init = resolve_init(cfg)
    rundir = open_run(cfg.out, "finetune", resume=cfg.resume, overwrite=cfg.overwrite, rank_zero=is_rank_zero())
    try:
        data = dense_splits(cfg)
        strategy_name = cfg.strategy if cfg.strategy != "auto" else "full"
        cfg = resolve(cfg.model_copy(update={"strategy": strategy_name, "image_size": data.train.size}), init, data)
        if is_rank_zero() and not cfg.resume:
            rundir.save_config(to_yaml(cfg))
        model = build_model(cfg, init, data.classes)
        start_state = {k: v.detach().clone() for k, v in model.backbone.module.state_dict().items()}
        strategy = build_strategy(cfg, model)
        module = build_module(cfg, model, strategy)
        fit(cfg, module, data.train, rundir)
        return finish(cfg, rundir, model, strategy, start_state, data, seconds=time.perf_counter() - start)
    finally:
        rundir.release()


def check_options(cfg: FinetuneConfig) -> None:
    """Options that only classification has are refused, not ignored."""
    refuse_classify_only(cfg, CLASSIFY_ONLY)
    if cfg.strategy not in ("auto", *DENSE_STRATEGIES):
        raise HeadstartError(f"--strategy {cfg.strategy} is not available for --task {cfg.task}",
                             fix=f"pass one of: {', '.join(DENSE_STRATEGIES)}")


def dense_splits(cfg: FinetuneConfig) -> DenseSplits:
    """Training images (a seeded --labels share), validation (the data's own val split, else a
    held-out --val-fraction of the training split) and test (the data's test split, if any)."""
    size = None if cfg.image_size == "auto" else int(cfg.image_size)
    train = open_dense(cfg.data, task=cfg.task, split="train", size=size, on_bad_image=cfg.on_bad_image)
    order = np.random.default_rng(cfg.seed).permutation(len(train))
    if has_split(cfg.data, "val"):
        val = open_dense(cfg.data, task=cfg.task, split="val", size=train.size, on_bad_image=cfg.on_bad_image)
    else:
        n_val = max(1, round(len(train) * cfg.val_fraction))
        val, order = train.subset(sorted(order[:n_val])), order[n_val:]
    if cfg.labels:
        order = order[:parse_budget(cfg.labels).of(len(order))]  # nested: a smaller budget is a prefix
    train = train.subset(sorted(order))
    test = None
    if cfg.test_split and has_split(cfg.data, "test"):
        test = open_dense(cfg.data, task=cfg.task, split="test", size=train.size, on_bad_image=cfg.on_bad_image)
    for part in (val, test):
        if part is not None and part.classes != train.classes:
            raise HeadstartError(f"{cfg.data}: the splits name different classes", fix="use one class list")
    return DenseSplits(train, val, test, train.classes)


def build_model(cfg: FinetuneConfig, init: Init, classes: list[str]) -> DenseModel:
    torch.manual_seed(cfg.seed)
    backbone = create_backbone(init.model, weights=init.weights, image_size=int(cfg.image_size))
    return DenseModel(backbone, cfg.task, classes, int(cfg.image_size))


def build_strategy(cfg: FinetuneConfig, model: DenseModel) -> Strategy:
    strategy = strategy_class(cfg.strategy)(cfg)
    if cfg.strategy == "linear":  # the backbone frozen; classification's probe start has no dense analogue
        set_trainable(list(model.backbone.parameters()), False)
    else:
        strategy.prepare(model, Context(cfg, None, None, int(cfg.image_size), resumed=cfg.resume))
    return strategy


def build_module(cfg: FinetuneConfig, model: DenseModel, strategy: Strategy) -> DenseModule:
    plan = Plan(total_steps=int(cfg.steps), batch_size=cfg.batch_size // world_size(cfg),
                image_size=int(cfg.image_size), lr=float(cfg.lr), weight_decay=float(cfg.weight_decay),
                seed=cfg.seed, channels_last=cfg.channels_last and not model.backbone.meta.is_vit,
                skip_nonfinite=cfg.skip_nonfinite)
    settings = DenseSettings(backbone_lr_mult=cfg.backbone_lr_mult, layer_decay=cfg.layer_decay)
    compile_backbone(model.backbone.module, cfg.compile, cfg.accelerator)
    return DenseModule(model, strategy, settings, plan)


def fit(cfg: FinetuneConfig, module: DenseModule, train: DenseSet, rundir: Run) -> None:
    loader = ResumableLoader(train, batch_size=module.plan.batch_size, seed=cfg.seed, collate_fn=collate_dense)
    ckpt = str(rundir.last_checkpoint) if cfg.resume else None
    trainer = build_trainer(cfg, rundir, max_steps=int(cfg.steps), callbacks=[Throughput(cfg.batch_size)],
                            precision=str(cfg.precision), resume_step=checkpoint_step(ckpt),
                            use_distributed_sampler=False)  # the loader shards itself over ranks
    trainer.fit(module, loader, ckpt_path=ckpt)


def finish(cfg: FinetuneConfig, rundir: Run, model: DenseModel, strategy: Strategy, start_state: dict,
           data: DenseSplits, *, seconds: float) -> DenseResult:
    """Merge adapters, score validation (and test), measure forgetting, export, write results.json."""
    t0 = time.perf_counter()
    model = model.cpu().to(memory_format=torch.contiguous_format)
    trainable, total = count_params(model)
    strategy.finish(model)  # LoRA: merged into plain weights
    device = default_device(cfg.accelerator)
    results: dict = {"task": cfg.task, "strategy": cfg.strategy, "model": cfg.model, "from": cfg.from_,
                     "classes": data.classes, "train_images": len(data.train), "val_images": len(data.val),
                     "image_size": int(cfg.image_size), "strides": model.strides, "steps": cfg.steps,
                     "trainable_params": trainable, "total_params": total, "trainable_share": trainable / total}
    results.update(score_dense(model, data.val, device=device, prefix="val_"))
    if data.test is not None:
        results.update(score_dense(model, data.test, device=device), test_images=len(data.test), scored_on="test")
    else:  # the headline figures are the validation ones
        results.update({k[len("val_"):]: v for k, v in list(results.items()) if k.startswith("val_")},
                       scored_on="val")
    # kNN on the pretraining data with the start and the tuned backbone, as for classification
    results["forgetting"] = measure_forgetting(cfg, model, start_state, backbone_state(model.backbone), device)
    model.cpu()
    if is_rank_zero():
        save_dense(model, rundir)
        save_backbone(model.backbone, rundir.backbone_file, cfg.model)
        results["seconds"] = round(seconds + time.perf_counter() - t0, 1)
        rundir.merge_results(results)
    keys = ("map50", "map") if cfg.task == "detect" else ("miou",)
    return DenseResult(rundir.path, cfg.task, cfg.strategy, {k: results[k] for k in keys}, int(cfg.steps),
                       round(seconds + time.perf_counter() - t0, 1), scored_on=results["scored_on"],
                       trainable_share=trainable / total, forgetting=results["forgetting"])
