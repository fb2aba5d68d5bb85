"""`headstart pretrain` for a text model, top to bottom: check the method fits the model, open the
run, read the corpus, train (or read) the tokenizer, tokenize once (cached) and pack, resolve the
plan, build backbone and method, train with tokens/s and the held-out monitor, export
(`exported/backbone.safetensors` and the `save_pretrained` folder `exported/hf/`).

    headstart.pretrain(data="fortunes", model="headstart/bert-mini", method="mlm", out="runs/txt")
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from headstart.commands._pretrain_common import PretrainResult, method_config
from headstart.config import to_yaml
from headstart.data.imageset import collate
from headstart.data.text import Corpus, open_text
from headstart.data.text.textset import TextSet, tokenize_corpus
from headstart.data.text.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from headstart.errors import HeadstartError
from headstart.export.hf import save_hf_folder
from headstart.export.weights import save_backbone
from headstart.methods import method_class
from headstart.methods.text import TextMethod, TextMethodConfig, model_kind
from headstart.models.family import split_name
from headstart.models.text import TEXT_NETS, create_text_backbone
from headstart.models.weights import load_weights
from headstart.run import Run, open_run
from headstart.train.callbacks import GlobalRNG
from headstart.train.compiling import compile_backbone
from headstart.train.config import PretrainConfig
from headstart.train.distributed import is_rank_zero, world_size
from headstart.train.loader import ResumableLoader
from headstart.train.module import Plan
from headstart.train.resuming import resume_or_start
from headstart.train.text_callbacks import TextMonitor, TokenThroughput
from headstart.train.trainer import (
    build_trainer,
    check_checkpoint_fits,
    checkpoint_step,
    resolve_precision,
    resolve_workers,
    stops_explained,
)

HELDOUT_WINDOWS = 256  # held-out sequences scored for perplexity (fixed, seeded)
HELDOUT_SHARE = 0.02  # of a corpus without a test split, kept out of training for the monitor
KNN_BANK, KNN_QUERY = 10_000, 2_000
MONITOR_TIMES = 10  # measurements over a run (and one at the end)


def run(cfg: PretrainConfig) -> PretrainResult:
    start = time.perf_counter()
    cls = method_class(cfg.method)
    cls.check_kind(model_kind(cfg.model), cfg.model)  # before any folder, corpus or tokenizer work
    rundir = open_run(cfg.out, "pretrain", resume=cfg.resume, overwrite=cfg.overwrite, rank_zero=is_rank_zero())
    try:
        cfg, step, done = resume_or_start(rundir, cfg, product=rundir.exported / "hf" / "config.json")
        if done:
            kept = rundir.results()
            return PretrainResult(rundir.path, kept.get("knn"), int(step or 0), float(kept.get("seconds") or 0.0),
                                  kept.get("perplexity"))
        method_cfg = method_config(cls, cfg.method, cfg.method_args)
        corpus, heldout_corpus = open_corpus(cfg)
        tokenizer = text_tokenizer(cfg, method_cfg, corpus, rundir)
        docs = tokenize_corpus(corpus, tokenizer=tokenizer, max_length=cfg.seq_len)
        train = docs.packed(cfg.seq_len) if cls.data == "packed" else docs
        cfg, plan = resolve(cfg, method_cfg, train)
        method = build_method(cfg, plan, cls, method_cfg, tokenizer)
        monitor = make_monitor(cfg, plan, corpus, heldout_corpus, tokenizer, method) if cfg.monitor else None
        if is_rank_zero():
            save_tokenizer(tokenizer, rundir.path / "tokenizer")
        fit(cfg, plan, method, train, rundir, monitor)
        last = monitor.history[-1] if monitor and monitor.history else {}
        seconds = time.perf_counter() - start
        if is_rank_zero():
            finish(rundir, method, cfg, monitor.history if monitor else [], seconds)
        return PretrainResult(rundir.path, last.get("knn"), plan.total_steps, seconds, last.get("perplexity"))
    finally:
        rundir.release()


def open_corpus(cfg: PretrainConfig) -> tuple[Corpus, Corpus]:
    return split_corpus(cfg.data, seed=cfg.seed)


def split_corpus(data: str, *, seed: int) -> tuple[Corpus, Corpus]:
    """(training corpus, held-out corpus): the data's test split, or — for data without one — a
    seeded share of its documents kept out of training."""
    train = open_text(data, split="train")
    test = open_text(data, split="test")
    if test.source != train.source:
        return train, test
    order = np.random.default_rng(seed).permutation(len(train))
    cut = max(1, int(len(train) * HELDOUT_SHARE))
    return train.subset(np.sort(order[cut:])), train.subset(np.sort(order[:cut]))


def text_tokenizer(cfg: PretrainConfig, method_cfg: TextMethodConfig, corpus: Corpus, rundir: Run):
    """The run's own tokenizer (a resumed run), the `hf:` folder's, or one trained on the corpus."""
    saved = rundir.path / "tokenizer"
    family, net = split_name(cfg.model)
    if (saved / "tokenizer.json").is_file():
        return load_tokenizer(saved)
    if family == "hf":
        return load_tokenizer(net)  # a checkpoint's embeddings are its tokenizer's: never a new one
    style = TEXT_NETS[net]
    return train_tokenizer(corpus.texts, kind=method_cfg.tokenizer, vocab_size=method_cfg.vocab_size, style=style,
                           model_max_length=max(512, cfg.seq_len))


def resolve(cfg: PretrainConfig, method_cfg: TextMethodConfig, train) -> tuple[PretrainConfig, Plan]:
    """Every "auto" resolved in one place (as for images, with sequences for images)."""
    per_step = cfg.batch_size * cfg.accumulate_grad_batches
    if len(train) < per_step:
        raise HeadstartError(f"--batch-size {cfg.batch_size} is larger than the data ({len(train)} sequences of "
                             f"{cfg.seq_len} tokens)", fix=f"pass --batch-size {max(2, len(train) // 2)} or a "
                             "smaller --seq-len")
    steps_per_epoch = len(train) // per_step
    epochs = cfg.epochs or max(1, min(100, round(1_000_000 / len(train))))
    total = cfg.steps or max(1, epochs * steps_per_epoch)
    lr = cfg.lr if cfg.lr != "auto" else method_cfg.lr * per_step / 256
    wd = cfg.weight_decay if cfg.weight_decay != "auto" else method_cfg.weight_decay
    resolved = cfg.model_copy(update={
        "lr": lr, "weight_decay": wd, "epochs": cfg.epochs or math.ceil(total / steps_per_epoch), "steps": total,
        "precision": resolve_precision(cfg.precision, cfg.accelerator), "method_args": method_cfg.model_dump(),
    })
    plan = Plan(total_steps=total, batch_size=cfg.batch_size // world_size(cfg), image_size=0, lr=lr,
                weight_decay=wd, seed=cfg.seed, channels_last=False, skip_nonfinite=cfg.skip_nonfinite)
    return resolved, plan


def build_method(cfg: PretrainConfig, plan: Plan, cls: type, method_cfg: TextMethodConfig, tokenizer) -> TextMethod:
    torch.manual_seed(cfg.seed)
    backbone = create_text_backbone(cfg.model, tokenizer=tokenizer)
    if backbone.meta.extra["vocab_size"] < len(tokenizer):
        raise HeadstartError(f"{cfg.model} has {backbone.meta.extra['vocab_size']} token embeddings, its tokenizer "
                             f"{len(tokenizer)} tokens", fix="use the tokenizer the checkpoint was trained with")
    if cfg.weights is not None:
        load_weights(backbone.module, cfg.weights, allow_partial=cfg.allow_partial)
    if cfg.activation_checkpointing:
        backbone.module.gradient_checkpointing_enable()
    method = cls(backbone, method_cfg, plan, tokenizer=tokenizer)
    compile_backbone(method.backbone.module, cfg.compile, cfg.accelerator)
    return method


def make_monitor(cfg: PretrainConfig, plan: Plan, corpus: Corpus, heldout: Corpus, tokenizer,
                 method: TextMethod) -> TextMonitor | None:
    """Held-out perplexity on a fixed seeded sample of windows; kNN when labels exist (`--val-data`,
    whose train split is the bank, or the corpus's own labels)."""
    windows = heldout_windows(heldout, tokenizer, cfg.seq_len, cfg.seed) if method.objective else None
    bank, query = knn_sets(cfg, corpus, heldout, tokenizer, np.random.default_rng(cfg.seed))
    if windows is None and bank is None:
        return None
    every = max(1, plan.total_steps // MONITOR_TIMES)
    return TextMonitor(heldout=windows, every=every, bank=bank, query=query, k=cfg.knn_k, seed=cfg.seed)


def heldout_windows(heldout: Corpus, tokenizer, seq_len: int, seed: int) -> torch.Tensor | None:
    """The fixed sample of held-out windows perplexity is measured on (`headstart evaluate` too)."""
    packed = tokenize_corpus(heldout, tokenizer=tokenizer, max_length=seq_len).packed(seq_len)
    if not len(packed):
        return None
    pick = np.sort(np.random.default_rng(seed).permutation(len(packed))[:HELDOUT_WINDOWS])
    return packed.__getitems__(pick.tolist())[0]


def knn_sets(cfg: PretrainConfig, corpus: Corpus, heldout: Corpus, tokenizer, g: np.random.Generator):
    if cfg.val_data:
        bank, query = open_text(cfg.val_data, split="train"), open_text(cfg.val_data, split="test")
        if bank.source == query.source:  # one labeled file: half the bank, half the queries
            order = g.permutation(len(bank))
            half = len(order) // 2
            bank, query = bank.subset(np.sort(order[half:])), bank.subset(np.sort(order[:half]))
    else:
        bank, query = corpus, heldout
    if not (bank.classes and query.classes):
        if cfg.val_data:
            raise HeadstartError(f"--val-data {cfg.val_data} has no labels", fix="pass labeled text (class folders, "
                                 "a label column) such as fortunes-topic, or drop --val-data")
        return None, None
    sets = []
    for c, cap in ((bank, KNN_BANK), (query, KNN_QUERY)):
        data = tokenize_corpus(c, tokenizer=tokenizer, max_length=cfg.seq_len)
        sets.append(labeled(data).subset(np.sort(g.permutation(len(labeled(data)))[:cap])))
    return sets[0], sets[1]


def labeled(data: TextSet) -> TextSet:
    return data.subset(np.flatnonzero(data.labels >= 0))


def fit(cfg: PretrainConfig, plan: Plan, method: TextMethod, train, rundir: Run, monitor) -> None:
    workers = resolve_workers(cfg.num_workers, in_memory=True)  # token ids are memory-mapped: no decoding
    loader = ResumableLoader(train, batch_size=plan.batch_size, seed=cfg.seed, collate_fn=collate,
                             num_workers=workers, pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0)
    callbacks = [TokenThroughput(method.backbone.pad_id), GlobalRNG()] + ([monitor] if monitor else [])
    ckpt = str(rundir.last_checkpoint) if cfg.resume else None
    if ckpt:
        check_checkpoint_fits(ckpt, method)
    trainer = build_trainer(cfg, rundir, max_steps=plan.total_steps, callbacks=callbacks,
                            precision=str(cfg.precision), resume_step=checkpoint_step(ckpt),
                            use_distributed_sampler=False)
    if is_rank_zero():
        rundir.save_config(to_yaml(cfg.model_copy(update={"resume": False})))
    with stops_explained(rundir, trainer):
        trainer.fit(method, loader, ckpt_path=ckpt)


def finish(rundir: Run, method: TextMethod, cfg: PretrainConfig, history: list[dict], seconds: float) -> None:
    save_backbone(method.backbone, rundir.backbone_file, cfg.model)
    save_hf_folder(method.lm_model(), method.tokenizer, rundir.exported / "hf")
    last = history[-1] if history else {}
    rundir.write_results({"knn": last.get("knn"), "knn_k": cfg.knn_k, "perplexity": last.get("perplexity"),
                          "perplexity_kind": method.objective, "monitor": history, "steps": cfg.steps,
                          "seconds": round(seconds, 1), "model": cfg.model, "method": cfg.method,
                          "seq_len": cfg.seq_len, "vocab_size": len(method.tokenizer)})
