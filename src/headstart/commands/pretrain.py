"""`headstart pretrain`: read top to bottom — open the run, read the data, resolve the plan,
build backbone and method, train, export the backbone, report kNN accuracy.

    headstart.pretrain(data="fashion-mnist", model="headstart/resnet-mini", method="simclr", out="runs/fm")
"""

from __future__ import annotations

import math
import time

import torch

from headstart.commands._pretrain_common import PretrainResult, method_config
from headstart.commands._pretrain_text import run as run_text
from headstart.config import api_function, to_yaml
from headstart.data.imageset import ImageSet, collate
from headstart.data.sources import open_data
from headstart.errors import HeadstartError
from headstart.export.weights import save_backbone
from headstart.methods import method_class
from headstart.methods.base import Method
from headstart.models.factory import create_backbone
from headstart.models.family import model_family, model_modality
from headstart.run import Run, open_run
from headstart.train.callbacks import GlobalRNG, KNNMonitor, Throughput
from headstart.train.compiling import compile_backbone
from headstart.train.config import PretrainConfig
from headstart.train.distributed import is_rank_zero, world_size
from headstart.train.loader import ResumableLoader
from headstart.train.memory_format import channels_last
from headstart.train.module import Plan
from headstart.train.resuming import resume_or_start
from headstart.train.trainer import (
    build_trainer,
    check_checkpoint_fits,
    checkpoint_step,
    resolve_precision,
    resolve_workers,
    stops_explained,
)


def run(cfg: PretrainConfig) -> PretrainResult:
    """The pipeline of the model's modality (image or text, said by its family)."""
    modality = model_modality(cfg.model)
    wants = method_class(cfg.method).modality
    if wants != modality:
        article = "an" if modality == "image" else "a"
        raise HeadstartError(f"--method {cfg.method} pretrains {wants} models; {cfg.model} is {article} {modality} model",
                             fix="`headstart list-methods` shows each method's models; text: mlm, next-token, "
                             "simcse")
    return PIPELINES[modality](cfg)


def run_images(cfg: PretrainConfig) -> PretrainResult:
    start = time.perf_counter()
    rundir = open_run(cfg.out, "pretrain", resume=cfg.resume, overwrite=cfg.overwrite, rank_zero=is_rank_zero())
    try:
        cfg, step, done = resume_or_start(rundir, cfg, product=rundir.backbone_file)
        if done:
            kept = rundir.results()
            return PretrainResult(rundir.path, kept.get("knn"), int(step or 0), float(kept.get("seconds") or 0.0))
        data = open_train_data(cfg)
        cfg, plan, method_cfg = resolve(cfg, data)
        method = build_method(cfg, plan, method_cfg)
        monitor = make_monitor(cfg, data, plan.image_size)
        fit(cfg, plan, method, data, rundir, monitor)
        knn = monitor.history[-1][1] if monitor and monitor.history else None
        if is_rank_zero():
            finish(rundir, method, cfg, knn, time.perf_counter() - start)
        return PretrainResult(rundir.path, knn, plan.total_steps, time.perf_counter() - start)
    finally:
        rundir.release()


def open_train_data(cfg: PretrainConfig) -> ImageSet:
    """Folders decode at the training size; smaller in-memory sets stay as they are (the views
    resize while they crop)."""
    size = cfg.image_size if cfg.image_size != "auto" else None
    return open_data(cfg.data, split="train", on_bad_image=cfg.on_bad_image, load_size=size, upscale=False)


def resolve(cfg: PretrainConfig, data: ImageSet):
    """Every "auto" resolved in one place; returns the resolved config, the plan, the method config."""
    method_cfg = method_config(method_class(cfg.method), cfg.method, cfg.method_args)
    image_size = cfg.image_size if cfg.image_size != "auto" else auto_image_size(cfg.model, data)
    per_step = cfg.batch_size * cfg.accumulate_grad_batches
    if len(data) < cfg.batch_size:
        raise HeadstartError(f"--batch-size {cfg.batch_size} is larger than the data ({len(data)} images)",
                             fix=f"pass --batch-size {2 ** int(math.log2(max(2, len(data))))} or fewer")
    steps_per_epoch = len(data) // per_step
    epochs = cfg.epochs or max(1, min(100, round(1_000_000 / len(data))))
    total = cfg.steps or max(1, epochs * steps_per_epoch)
    lr = cfg.lr if cfg.lr != "auto" else method_cfg.lr * per_step / 256
    wd = cfg.weight_decay if cfg.weight_decay != "auto" else method_cfg.weight_decay
    resolved = cfg.model_copy(update={
        "image_size": image_size, "lr": lr, "weight_decay": wd, "epochs": cfg.epochs or math.ceil(total / steps_per_epoch),
        "steps": total, "precision": resolve_precision(cfg.precision, cfg.accelerator),
        "method_args": method_cfg.model_dump(),
    })
    plan = Plan(total_steps=total, batch_size=cfg.batch_size // world_size(cfg), image_size=image_size, lr=lr,
                weight_decay=wd, seed=cfg.seed, channels_last=cfg.channels_last and not cfg.model.endswith("vit-tiny"),
                skip_nonfinite=cfg.skip_nonfinite)
    return resolved, plan, method_cfg


def auto_image_size(model: str, data: ImageSet) -> int:
    """The side the model's family picks for the data's own side (library models: 32-224 px)."""
    side = int(data.images.shape[-1]) if data.images is not None else int(data.size or 64)
    return model_family(model)[0].auto_image_size(side)


def build_method(cfg: PretrainConfig, plan: Plan, method_cfg) -> Method:
    torch.manual_seed(cfg.seed)
    backbone = create_backbone(cfg.model, weights=cfg.weights, image_size=plan.image_size,
                               allow_partial=cfg.allow_partial)
    if cfg.activation_checkpointing:
        if not hasattr(backbone.module, "set_grad_checkpointing"):
            raise HeadstartError(f"--activation-checkpointing: {cfg.model} has no checkpointing hook",
                                 fix="use a timm or headstart model with it, or drop it and lower --batch-size")
        backbone.module.set_grad_checkpointing(True)  # timm: each block's activations recomputed in backward
    if plan.channels_last:
        on_cpu = cfg.accelerator == "cpu" or cfg.accelerator == "auto" and not torch.cuda.is_available()
        channels_last(backbone, plan.image_size, cpu=on_cpu)
    method = method_class(cfg.method)(backbone, method_cfg, plan)
    compile_backbone(method.backbone.module, cfg.compile, cfg.accelerator)
    return method


def make_monitor(cfg: PretrainConfig, data: ImageSet, image_size: int):
    """kNN monitor when labels exist: a bank from the training data and a held-out query split."""
    if not cfg.monitor:
        return None
    query = None
    if cfg.val_data:
        query = open_data(cfg.val_data, split="test")
    elif data.source.endswith(":train") and ":" in data.source:
        query = open_data(data.source.replace(":train", ":test"))
    if query is None or not query.has_labels or not data.has_labels:
        return None
    g = torch.Generator().manual_seed(cfg.seed)
    bank = data.subset(torch.randperm(len(data), generator=g)[:10_000].numpy())
    query = query.subset(torch.randperm(len(query), generator=g)[:2_000].numpy())
    return KNNMonitor(bank, query, k=cfg.knn_k, image_size=image_size)


def fit(cfg: PretrainConfig, plan: Plan, method: Method, data: ImageSet, rundir: Run, monitor) -> None:
    workers = resolve_workers(cfg.num_workers, in_memory=data.images is not None)
    loader = ResumableLoader(  # shuffled per epoch from the seed, sharded over ranks, resumable mid-epoch
        data.with_format(size=None if data.images is not None else data.size, channels=data.channels),
        batch_size=plan.batch_size, seed=cfg.seed, collate_fn=collate, num_workers=workers,
        pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0,
    )
    callbacks = [Throughput(cfg.batch_size), GlobalRNG()] + ([monitor] if monitor else [])
    ckpt = str(rundir.last_checkpoint) if cfg.resume else None
    if ckpt:
        check_checkpoint_fits(ckpt, method)
    trainer = build_trainer(cfg, rundir, max_steps=plan.total_steps, callbacks=callbacks,
                            precision=str(cfg.precision), resume_step=checkpoint_step(ckpt),
                            use_distributed_sampler=False)
    if is_rank_zero():  # only now: a run refused during set-up leaves no folder behind (nor a changed one)
        rundir.save_config(to_yaml(cfg.model_copy(update={"resume": False})))  # an extended run: its new length
    with stops_explained(rundir, trainer):
        trainer.fit(method, loader, ckpt_path=ckpt)


def finish(rundir: Run, method: Method, cfg: PretrainConfig, knn: float | None, seconds: float) -> None:
    save_backbone(method.backbone, rundir.backbone_file, cfg.model)
    rundir.write_results({"knn": knn, "knn_k": cfg.knn_k, "steps": cfg.steps, "seconds": round(seconds, 1),
                          "model": cfg.model, "method": cfg.method})


PIPELINES = {"image": run_images, "text": run_text}

pretrain = api_function(
    PretrainConfig, run, "pretrain",
    "Self-supervised pretraining on unlabeled images; returns a PretrainResult (run folder, kNN, steps, seconds).\n\n"
    "Example:\n    headstart.pretrain(data='fashion-mnist', model='headstart/resnet-mini', method='simclr', "
    "steps=500, out='runs/fm')",
)
