"""`headstart finetune`: read top to bottom — open the run, pick the labeled subset, resolve the
plan (`_finetune_resolve`), build classifier and strategy, train, then merge, blend, measure and
export (`_finetune_finish`).

    headstart.finetune(from_="runs/fm", data="fashion-mnist", labels="1%", strategy="lp-ft", out="runs/fm-ft")
"""

from __future__ import annotations

import time
from typing import Any

import torch

from headstart.adapt.callbacks import KeepBest
from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits, check_subset, write_subset
from headstart.adapt.head import Classifier
from headstart.adapt.infer import default_device
from headstart.adapt.module import FinetuneModule, FinetuneSettings
from headstart.adapt.self_training import check_options, self_train
from headstart.adapt.semi.module import SemiFinetuneModule, build_semi_module, semi_record
from headstart.adapt.strategies import strategy_class
from headstart.adapt.strategies.base import Context, Strategy
from headstart.commands import finetune_dense
from headstart.commands._finetune_finish import FinetuneResult, finish
from headstart.commands._finetune_inputs import ImageInputs, TextInputs, inputs_for
from headstart.commands._finetune_resolve import Init, resolve, resolve_init
from headstart.config import api_function, to_yaml
from headstart.data.imageset import collate
from headstart.run import Run, open_run
from headstart.train.callbacks import Throughput
from headstart.train.compiling import compile_backbone
from headstart.train.config import TrainerOptions
from headstart.train.distributed import is_rank_zero, world_size
from headstart.train.loader import ResumableLoader
from headstart.train.memory_format import channels_last as lay_out
from headstart.train.module import Plan
from headstart.train.resuming import resume_or_start
from headstart.train.trainer import build_trainer, checkpoint_step, resolve_workers

__all__ = ["FinetuneResult", "finetune", "run"]


def run(cfg: FinetuneConfig) -> FinetuneResult | finetune_dense.DenseResult | Any:
    if cfg.task == "instruct":
        from headstart.commands import finetune_instruct  # transformers: only for a language model

        return finetune_instruct.run(cfg)
    if cfg.task != "classify":
        return finetune_dense.run(cfg)
    start = time.perf_counter()
    rundir = open_run(
        cfg.out, "finetune", resume=cfg.resume, overwrite=cfg.overwrite, rank_zero=is_rank_zero()
    )
    try:
        cfg, step, done = resume_or_start(rundir, cfg, product=rundir.model_file)  # a resumed run: its settings
        if done:
            return finished_result(rundir, int(step or 0))
        check_options(cfg)
        init = resolve_init(cfg)
        inputs = inputs_for(cfg, init, rundir)  # images or text: the one place the data's kind matters
        cfg = inputs.configured(cfg)
        data = inputs.splits(cfg)
        cfg = resolve(cfg, init, data)
        data = inputs.sized(data, cfg)
        record(rundir, cfg, data, rank_zero=is_rank_zero())
        if is_rank_zero():
            inputs.save(rundir)
        model = build_classifier(cfg, init, data.classes, inputs)
        start_state = {k: v.detach().clone() for k, v in model.backbone.module.state_dict().items()}
        strategy = build_strategy(cfg, model, data)
        module = build_module(cfg, model, strategy, data)
        fit(cfg, module, data, rundir)
        rounds = []
        if cfg.self_train:

            def train_round(grown: LabeledSplits) -> None:  # the same strategy, on from the current weights
                fit(cfg, build_module(cfg, model, strategy, grown), grown, rundir)

            rounds = self_train(cfg, model, data, train_round)
        semi = semi_record(cfg, module) if isinstance(module, SemiFinetuneModule) else None
        return finish(cfg, rundir, model, strategy, start_state, data, seconds=time.perf_counter() - start,
                      self_training=rounds, semi=semi, forgetting_of=inputs.forgetting)
    finally:
        rundir.release()


def record(rundir: Run, cfg: FinetuneConfig, data: LabeledSplits, *, rank_zero: bool) -> None:
    """config.yaml and subset.json (a resumed run must have drawn the same subset)."""
    if cfg.resume:
        check_subset(rundir.path, data.subset)
    if rank_zero:  # a resumed run too: an extended run's config says its new length
        rundir.save_config(to_yaml(cfg.model_copy(update={"resume": False})))
        if not cfg.resume:
            write_subset(rundir.path, data.subset)


def finished_result(rundir: Run, step: int) -> FinetuneResult:
    """The result a finished run recorded in results.json."""
    r = rundir.results()
    forgetting = r.get("forgetting")
    return FinetuneResult(rundir.path, r["strategy"], r.get("accuracy"), r["val_accuracy"], r["trainable_share"],
                          forgetting if forgetting and ("before" in forgetting or "perplexity" in forgetting) else None,
                          step,
                          float(r.get("seconds") or 0.0))


def build_classifier(cfg: FinetuneConfig, init: Init, classes: list[str],
                     inputs: ImageInputs | TextInputs | None = None) -> Classifier:
    torch.manual_seed(cfg.seed)
    return Classifier((inputs or ImageInputs()).backbone(cfg, init), classes)


def build_strategy(cfg: FinetuneConfig, model: Classifier, data: LabeledSplits) -> Strategy:
    strategy = strategy_class(cfg.strategy)(cfg)
    strategy.prepare(model, Context(cfg, data.train, data.val, int(cfg.image_size), resumed=cfg.resume))
    return strategy


def build_module(
    cfg: FinetuneConfig, model: Classifier, strategy: Strategy, data: LabeledSplits
) -> FinetuneModule:
    channels_last = cfg.channels_last and not model.backbone.meta.is_vit
    if channels_last:  # as pretraining lays it out: on CPUs, tiny maps take faster paths
        lay_out(model.backbone, int(cfg.image_size), cpu=default_device(cfg.accelerator).type == "cpu")
    plan = Plan(
        total_steps=int(cfg.steps),
        batch_size=cfg.batch_size // world_size(cfg),
        image_size=int(cfg.image_size),
        lr=float(cfg.lr),
        weight_decay=float(cfg.weight_decay),
        seed=cfg.seed,
        channels_last=channels_last,
        skip_nonfinite=cfg.skip_nonfinite,
    )
    settings = FinetuneSettings(
        label_smoothing=cfg.label_smoothing,
        backbone_lr_mult=cfg.backbone_lr_mult,
        layer_decay=cfg.layer_decay,
        views=data.views,
    )
    weights = class_weights(data) if cfg.balance == "loss" else None
    compile_backbone(model.backbone.module, cfg.compile, cfg.accelerator)
    if cfg.semi != "none":
        return build_semi_module(cfg, model, strategy, settings, plan, data, class_weights=weights)
    return FinetuneModule(model, strategy, settings, plan, class_weights=weights)


def class_weights(data: LabeledSplits) -> torch.Tensor:
    """Loss weights N / (K * n_c): every class contributes equally to the expected loss."""
    counts = torch.bincount(torch.from_numpy(data.train.labels), minlength=len(data.classes)).float()
    return torch.where(counts > 0, counts.sum() / (len(counts) * counts.clamp(min=1)), 0.0)


def loaders(cfg: FinetuneConfig, data: LabeledSplits, batch_size: int):
    # token ids are memory-mapped: nothing to decode, like images held in memory
    workers = resolve_workers(cfg.num_workers, in_memory=data.views == "none" or data.train.images is not None)
    common = {
        "collate_fn": collate,
        "num_workers": workers,
        "pin_memory": torch.cuda.is_available(),
        "persistent_workers": workers > 0,
    }
    if cfg.balance == "sampler":  # each class drawn equally often, with replacement
        counts = torch.bincount(torch.from_numpy(data.train.labels))
        weights = (1.0 / counts.float())[torch.from_numpy(data.train.labels)]
        g = torch.Generator().manual_seed(cfg.seed)
        sampler = torch.utils.data.WeightedRandomSampler(weights, len(data.train), replacement=True,
                                                         generator=g)
        train = torch.utils.data.DataLoader(data.train, batch_size=batch_size, sampler=sampler,
                                            drop_last=True, **common)
    else:  # an order per (seed, epoch), resumable mid-epoch: a resumed run sees the batches it would have
        train = ResumableLoader(data.train, batch_size=batch_size, seed=cfg.seed, **common)
    val = torch.utils.data.DataLoader(data.val, batch_size=max(batch_size, 256), shuffle=False, **common)
    return train, val


def fit(cfg: FinetuneConfig, module: FinetuneModule, data: LabeledSplits, rundir: Run) -> None:
    train, val = loaders(cfg, data, module.plan.batch_size)
    callbacks = [Throughput(cfg.batch_size)] + ([KeepBest(cfg.early_stopping)] if cfg.early_stopping else [])
    opts = TrainerOptions(**{k: getattr(cfg, k) for k in TrainerOptions.model_fields})
    ckpt = str(rundir.last_checkpoint) if cfg.resume else None
    trainer = build_trainer(
        opts,
        rundir,
        max_steps=int(cfg.steps),
        callbacks=callbacks,
        precision=str(cfg.precision),
        resume_step=checkpoint_step(ckpt),
        use_distributed_sampler=not isinstance(train, ResumableLoader),  # it shards itself over ranks
    )
    trainer.fit(module, train, val, ckpt_path=ckpt)


finetune = api_function(
    FinetuneConfig,
    run,
    "finetune",
    "Fine-tune a classifier from a pretrained run, a weights file or scratch; returns a "
    "FinetuneResult (run folder, test accuracy, forgetting, ...).",
)
