"""What `finetune --task instruct` and `align` share, top to bottom: the tokenizer (with its chat
template), the seeded training / validation split, the resolved plan, the strategy (the same
`adapt/strategies` as classification), the trainer, and the finish — merge the adapters, blend
(WiSE-FT), score, export `exported/hf/` (an `AutoModelForCausalLM` folder with the tokenizer and its
chat template) and write results.json with peak memory and tokens/s.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from headstart.adapt.causal_lm import CausalLM, load_causal_lm
from headstart.adapt.infer import default_device
from headstart.adapt.instruct_module import InstructModule
from headstart.adapt.strategies import strategy_class
from headstart.adapt.strategies.base import Context, Strategy, count_params
from headstart.adapt.wise import apply_blend, sweep_blend
from headstart.commands._instruct_eval import EvalSets, perplexity_forgetting, score
from headstart.data.subsets import parse_budget
from headstart.data.text.instruct import Example, InstructSet, PadCollate, with_chat_template
from headstart.data.text.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from headstart.errors import HeadstartError
from headstart.export.hf import save_hf_folder
from headstart.export.weights import save_backbone
from headstart.models.factory import run_tokenizer
from headstart.models.family import split_name
from headstart.run import Run
from headstart.train.config import TrainerOptions
from headstart.train.loader import ResumableLoader
from headstart.train.text_callbacks import TokenThroughput
from headstart.train.trainer import build_trainer, checkpoint_step, resolve_precision

STRATEGIES = ("full", "lora", "qlora", "freeze")
AUTO_EPOCHS = 3
MAX_VAL = 300  # validation examples (the blend sweep scores them)


@dataclass
class LMResult:
    run: Path
    strategy: str
    exact_match: float
    preference: dict | None
    forgetting: dict | None
    trainable_share: float
    steps: int
    seconds: float
    tokens_per_s: float
    peak_rss_mb: float


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise HeadstartError(f"--strategy {strategy} does not adapt a language model",
                             fix=f"pass one of: {', '.join(STRATEGIES)}")


def lm_tokenizer(source: str, rundir: Run, *, given: Path | None, texts: list[str]):
    """The run's own (resumed), `--tokenizer`, the start run's or `hf:` folder's, else one trained on
    the texts of the data (from scratch); with a chat template (`CHAT_TEMPLATE` when it has none)."""
    tok = run_tokenizer(rundir)
    if tok is None and given is not None:
        tok = load_tokenizer(given)
    if tok is None and source.startswith("hf:"):
        tok = load_tokenizer(split_name(source)[1])
    if tok is None and source != "scratch":
        tok = run_tokenizer(source)
        if tok is None:
            raise HeadstartError(f"--from {source} keeps no tokenizer (no tokenizer/ folder)",
                                 fix="pass --tokenizer <folder>")
    if tok is None:
        tok = train_tokenizer(texts, style="gpt")
    return with_chat_template(tok)


def split_train_val(examples: list[Example], *, budget: str | None, val_fraction: float,
                    seed: int, skip: str | None = None) -> tuple[list[Example], list[Example]]:
    """A `--labels` budget (a prefix of one seeded order: a smaller budget is inside a larger one), then
    its validation share (at least 1, at most `MAX_VAL`), as classification counts labels. `skip` (a
    count or share) first drops the start of that order: what a `--labels skip` run of the same seed
    trained on, when two views of one data set are in the same order (a named task's SFT and pairs)."""
    order = np.random.default_rng(seed).permutation(len(examples))
    if skip:
        order = order[parse_budget(skip).of(len(order)):]
        if len(order) < 2:
            raise HeadstartError(f"--skip-labels {skip} leaves {len(order)} of the {len(examples)} examples",
                                 fix="pass a smaller --skip-labels")
    if budget:
        order = order[:parse_budget(budget).of(len(order))]
    n_val = min(MAX_VAL, max(1, round(len(order) * val_fraction)))
    val, rest = order[:n_val], order[n_val:]
    if len(rest) < 1:
        raise HeadstartError(f"no training example left ({len(order)} with validation)",
                             fix="pass a larger --labels budget or more examples")
    return [examples[i] for i in sorted(rest)], [examples[i] for i in sorted(val)]


def resolve(cfg, train: InstructSet, *, lr_factor: float = 1.0):
    """Every "auto": batch (clipped to the data), length (`AUTO_EPOCHS` passes), LR (the strategy's
    rate x sqrt(batch / 64) x `lr_factor`), weight decay, LoRA alpha, precision."""
    batch = min(cfg.batch_size, len(train))
    per_epoch = max(1, len(train) // (batch * cfg.accumulate_grad_batches))
    steps = cfg.steps or (cfg.epochs or AUTO_EPOCHS) * per_epoch
    lr = cfg.lr if cfg.lr != "auto" else strategy_class(cfg.strategy).default_lr(batch, False) * lr_factor
    return cfg.model_copy(update={
        "batch_size": batch, "steps": steps, "epochs": cfg.epochs or math.ceil(steps / per_epoch), "lr": lr,
        "weight_decay": cfg.weight_decay if cfg.weight_decay != "auto" else 0.0,
        "lora_alpha": cfg.lora_alpha if cfg.lora_alpha != "auto" else 2.0 * cfg.lora_rank,
        "precision": resolve_precision(cfg.precision, cfg.accelerator)})


def build_strategy(cfg, model: CausalLM, train: InstructSet) -> Strategy:
    """The prepared strategy; it sees the token ids the training answers use (`lora` trains their rows)."""
    strategy = strategy_class(cfg.strategy)(cfg)
    strategy.prepare(model, Context(cfg, None, None, 0, resumed=cfg.resume, token_ids=train.answer_tokens()))
    return strategy


def fit(cfg, module: InstructModule, train: InstructSet, rundir: Run) -> float:
    """Train; returns real (non-padding) tokens per second of the whole fit."""
    loader = ResumableLoader(train, batch_size=module.plan.batch_size, seed=cfg.seed,
                             collate_fn=PadCollate(module.backbone.pad_id))
    opts = TrainerOptions(**{k: getattr(cfg, k) for k in TrainerOptions.model_fields})
    ckpt = str(rundir.last_checkpoint) if cfg.resume else None
    trainer = build_trainer(opts, rundir, max_steps=int(cfg.steps), callbacks=[TokenThroughput(module.backbone.pad_id)],
                            precision=str(cfg.precision), resume_step=checkpoint_step(ckpt),
                            use_distributed_sampler=False)
    module.train()  # transformers loads a checkpoint in eval mode, and Lightning keeps the modes it finds
    start = time.perf_counter()
    trainer.fit(module, loader, ckpt_path=ckpt)
    tokens = train.num_tokens() / len(train) * int(cfg.steps) * module.plan.batch_size
    return tokens / max(time.perf_counter() - start, 1e-9)


def finish(cfg, rundir: Run, model: CausalLM, strategy: Strategy, start_state: dict, *, tokenizer,
           val: EvalSets, test: EvalSets | None, reference: np.ndarray | None, pretrain_run: Path | None,
           record: dict, seconds: float, tokens_per_s: float) -> LMResult:
    """Merge, blend, score, export, write results.json (see module doc)."""
    t0 = time.perf_counter()
    model.cpu()
    trainable = count_params(model)[0]
    strategy.finish(model)  # lora / qlora: plain (dequantised) weights with the adapters folded in
    total = count_params(model)[1]
    device = default_device(cfg.accelerator)
    blend = None
    if cfg.blend == "sweep":
        alpha, scores = sweep_blend(model, start_state, lambda m: score(m, val, device=device)["exact_match"])
        blend = {"alpha": alpha, "val_exact_match": scores}
    elif cfg.blend is not None:
        apply_blend(model, start_state, float(cfg.blend))
        blend = {"alpha": float(cfg.blend)}
    results = {**record, "strategy": cfg.strategy, "model": cfg.model, "from": cfg.from_, "steps": cfg.steps,
               "trainable_params": trainable, "total_params": total, "trainable_share": trainable / total,
               "pretrain_run": str(pretrain_run) if pretrain_run else None, "blend": blend,
               "val": score(model, val, device=device)}
    final = score(model, test, device=device, reference=reference, beta=getattr(cfg, "beta", 0.1)) if test else None
    results.update(final or results["val"], scored_on="test" if test else "val")
    results["forgetting"] = {"perplexity": perplexity_forgetting(model, pretrain_run, tokenizer, device=device)}
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        results["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    results["tokens_per_s"] = tokens_per_s
    model.cpu()
    save_backbone(model.backbone, rundir.backbone_file, cfg.model)
    save_tokenizer(tokenizer, rundir.path / "tokenizer")
    save_hf_folder(model.hf_model(), tokenizer, rundir.exported / "hf")
    results["seconds"] = round(seconds + time.perf_counter() - t0, 1)
    rundir.merge_results(results)
    ppl = results["forgetting"]["perplexity"]
    return LMResult(rundir.path, cfg.strategy, results["exact_match"], results.get("preference"),
                    ppl, trainable / total, int(cfg.steps), results["seconds"], tokens_per_s,
                    results["peak_rss_mb"])


def start_model(cfg, tokenizer) -> CausalLM:
    torch.manual_seed(cfg.seed)
    model = load_causal_lm(cfg.from_, tokenizer=tokenizer, model=getattr(cfg, "model", "auto"))
    if model.backbone.meta.extra["vocab_size"] < len(tokenizer):
        raise HeadstartError(f"{model.backbone.meta.name} has {model.backbone.meta.extra['vocab_size']} token "
                             f"embeddings, its tokenizer {len(tokenizer)} tokens",
                             fix="use the tokenizer the model was trained with")
    return model


def summary(r: LMResult) -> str:
    """The one line `finetune --task instruct` and `align` print."""
    pref = f", preference accuracy {r.preference['accuracy']:.1%}" if r.preference else ""
    ppl = r.forgetting or {}
    forgot = f", held-out perplexity {ppl['before']:.1f} -> {ppl['after']:.1f}" if "before" in ppl else ""
    return (f"{r.strategy}: exact match {r.exact_match:.1%}{pref}{forgot}, {r.trainable_share:.1%} of parameters "
            f"trained, {r.tokens_per_s:.0f} tokens/s, peak RSS {r.peak_rss_mb:.0f} MB; {r.steps} steps in "
            f"{r.seconds:.0f} s -> {r.run}")
