"""`headstart finetune --task instruct`: read top to bottom — open the run, the tokenizer (with its chat
template), the instructions (a seeded validation share, a `--labels` budget of the rest), the start
model (a next-token run, an instruct run, `hf:<folder>`, or scratch), the plan, the strategy, train on
the answer tokens, then merge, blend, score and export (`_instruct.finish`).

    headstart finetune --from runs/gpt --data fortunes-instruct --task instruct --strategy lora --out runs/sft
"""

from __future__ import annotations

import time

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.instruct_module import InstructModule, InstructSettings
from headstart.commands import _instruct as lm
from headstart.commands._finetune_resolve import refuse_classify_only
from headstart.commands._instruct_eval import EvalSets, pretrain_run_of
from headstart.config import to_yaml
from headstart.data.text.instruct import InstructSet
from headstart.data.text.instruct_sources import has_test_split, open_examples
from headstart.errors import HeadstartError
from headstart.run import open_run
from headstart.train.module import Plan
from headstart.train.resuming import resume_or_start

CLASSIFY_ONLY = {"per_class": None, "indices": None, "balance": "none", "self_train": 0, "semi": "none",
                 "early_stopping": None, "test_data": None, "unlabeled_data": None}


def run(cfg: FinetuneConfig) -> lm.LMResult:
    start = time.perf_counter()
    check_options(cfg)
    rundir = open_run(cfg.out, "finetune", resume=cfg.resume, overwrite=cfg.overwrite)
    try:
        cfg, _, done = resume_or_start(rundir, cfg, product=rundir.exported / "hf" / "config.json")
        if done:
            raise HeadstartError(f"{rundir.path} is finished", fix="see its results.json, or pass another --out")
        examples = open_examples(cfg.data, split="train")
        tokenizer = lm.lm_tokenizer(cfg.from_, rundir, given=cfg.tokenizer,
                                    texts=[m["content"] for ex in examples for m in ex.messages])
        train_ex, val_ex = lm.split_train_val(examples, budget=cfg.labels, val_fraction=cfg.val_fraction,
                                              seed=cfg.seed)
        train = InstructSet(train_ex, tokenizer, max_length=cfg.seq_len)
        model = lm.start_model(cfg, tokenizer)
        cfg = lm.resolve(cfg.model_copy(update={"strategy": "full" if cfg.strategy == "auto" else cfg.strategy,
                                                "model": model.backbone.meta.name, "image_size": 0}), train)
        rundir.save_config(to_yaml(cfg.model_copy(update={"resume": False})))
        start_state = {k: v.detach().clone() for k, v in model.backbone.module.state_dict().items()}
        strategy = lm.build_strategy(cfg, model, train)
        module = InstructModule(model, strategy, settings(cfg), plan(cfg))
        tokens_per_s = lm.fit(cfg, module, train, rundir)
        test = (EvalSets(cfg.data, tokenizer, split="test", seq_len=cfg.seq_len)
                if cfg.test_split and has_test_split(cfg.data) else None)
        val = EvalSets.of(val_ex, tokenizer, seq_len=cfg.seq_len, source=f"{cfg.data} (validation)")
        record = {"task": "instruct", "data": cfg.data, "train_examples": len(train), "val_examples": len(val_ex),
                  "seq_len": cfg.seq_len, "prompt_tokens": cfg.seq_len - train.answer_room}
        return lm.finish(cfg, rundir, model, strategy, start_state, tokenizer=tokenizer, val=val, test=test,
                         reference=None, pretrain_run=pretrain_run_of(cfg.from_), record=record,
                         seconds=time.perf_counter() - start, tokens_per_s=tokens_per_s)
    finally:
        rundir.release()


def check_options(cfg: FinetuneConfig) -> None:
    """Options that only classification has are refused, not ignored."""
    refuse_classify_only(cfg, CLASSIFY_ONLY)
    if cfg.strategy != "auto":
        lm.check_strategy(cfg.strategy)
    if isinstance(cfg.blend, float) and not 0 <= cfg.blend <= 1:
        raise HeadstartError(f"--blend {cfg.blend} is outside [0, 1]", fix="pass a weight in [0, 1] or sweep")
    if cfg.blend is not None and cfg.from_ == "scratch":
        raise HeadstartError("--blend needs pretrained start weights, but --from is scratch", fix="drop --blend")


def settings(cfg) -> InstructSettings:
    return InstructSettings(backbone_lr_mult=cfg.backbone_lr_mult, layer_decay=cfg.layer_decay,
                            beta=getattr(cfg, "beta", 0.1), method=getattr(cfg, "method", "dpo"),
                            sft_weight=getattr(cfg, "sft_weight", 0.0))


def plan(cfg) -> Plan:
    return Plan(total_steps=int(cfg.steps), batch_size=cfg.batch_size, image_size=0, lr=float(cfg.lr),
                weight_decay=float(cfg.weight_decay), seed=cfg.seed, channels_last=False,
                skip_nonfinite=cfg.skip_nonfinite)
