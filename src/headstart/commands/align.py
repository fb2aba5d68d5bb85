"""`headstart align`: preference optimisation of a causal LM, read top to bottom — open the run, the
start model's tokenizer, the pairs (a seeded validation share, a `--labels` budget, `--skip-labels`), the
start model (with `--rejected policy` its own wrong answers become the rejected ones), which is also the
reference: its answer log-probs on every training pair are computed once (no second model in memory),
then the plan, the strategy, DPO / IPO training, and the shared finish (merge, blend, exact match,
preference accuracy and reward margin against the reference, forgetting, export).

    headstart align --from runs/sft --data fortunes-instruct --method dpo --beta 0.1 --out runs/dpo
"""

from __future__ import annotations

import dataclasses
import logging
import time

import torch

from headstart.adapt.causal_lm import CausalLM
from headstart.adapt.infer import default_device
from headstart.adapt.instruct_infer import answer_logps
from headstart.adapt.instruct_module import PreferenceModule
from headstart.adapt.lm.config import AlignConfig, GenerateConfig
from headstart.commands import _instruct as lm
from headstart.commands._instruct_eval import EvalSets, pair_logps, pretrain_run_of
from headstart.commands.finetune_instruct import plan, settings
from headstart.commands.generate import answer
from headstart.config import api_function, to_yaml
from headstart.data.text.instruct import Example, InstructSet, prompt_ids
from headstart.data.text.instruct_sources import has_test_split, open_examples
from headstart.errors import HeadstartError
from headstart.progress import progress
from headstart.run import open_run
from headstart.train.resuming import resume_or_start

log = logging.getLogger("headstart")
DPO_LR_FACTOR = 0.1  # of the strategy's supervised rate: DPO moves a model that already answers

__all__ = ["align", "run"]


def run(cfg: AlignConfig) -> lm.LMResult:
    start = time.perf_counter()
    lm.check_strategy(cfg.strategy)
    if cfg.from_ == "scratch":
        raise HeadstartError("align needs a start model to prefer answers of (and to be its reference)",
                             fix="pass --from an instruct run, a next-token run or hf:<folder>")
    rundir = open_run(cfg.out, "align", resume=cfg.resume, overwrite=cfg.overwrite)
    try:
        cfg, _, done = resume_or_start(rundir, cfg, product=rundir.exported / "hf" / "config.json")
        if done:
            raise HeadstartError(f"{rundir.path} is finished", fix="see its results.json, or pass another --out")
        pairs = open_examples(cfg.data, split="train", kind="pref")
        tokenizer = lm.lm_tokenizer(cfg.from_, rundir, given=None, texts=[])
        train_ex, val_ex = lm.split_train_val(pairs, budget=cfg.labels, val_fraction=cfg.val_fraction, seed=cfg.seed,
                                              skip=cfg.skip_labels)
        model = lm.start_model(cfg, tokenizer)
        device = default_device(cfg.accelerator)
        replaced = 0
        train = InstructSet(train_ex, tokenizer, max_length=cfg.seq_len)
        if cfg.rejected == "policy":  # the chosen answers, so the answer room, stay: prompts are cut alike
            train_ex, replaced = policy_rejected(model, train_ex, tokenizer, device=device,
                                                 prompt_tokens=cfg.seq_len - train.answer_room, show=cfg.progress)
            train = InstructSet(train_ex, tokenizer, max_length=cfg.seq_len)
        reference = torch.from_numpy(answer_logps(model, train, device=device)[0])  # (N, 2), the start's
        test = (EvalSets(cfg.data, tokenizer, split="test", seq_len=cfg.seq_len)
                if cfg.test_split and has_test_split(cfg.data) else None)
        test_reference = pair_logps(model, test, device=device) if test else None
        model.cpu()
        cfg = lm.resolve(cfg.model_copy(update={"model": model.backbone.meta.name}), train, lr_factor=DPO_LR_FACTOR)
        rundir.save_config(to_yaml(cfg.model_copy(update={"resume": False})))
        start_state = {k: v.detach().clone() for k, v in model.backbone.module.state_dict().items()}
        strategy = lm.build_strategy(cfg, model, train)
        module = PreferenceModule(model, strategy, settings(cfg), plan(cfg), reference=reference)
        tokens_per_s = lm.fit(cfg, module, train, rundir)
        val = EvalSets.of([chosen_chat(p) for p in val_ex], tokenizer, seq_len=cfg.seq_len,
                          source=f"{cfg.data} (validation)", pairs=val_ex)
        record = {"task": "align", "method": cfg.method, "beta": cfg.beta, "sft_weight": cfg.sft_weight,
                  "rejected": cfg.rejected, "policy_rejected_pairs": replaced, "skip_labels": cfg.skip_labels,
                  "data": cfg.data, "train_pairs": len(train), "val_pairs": len(val_ex), "seq_len": cfg.seq_len,
                  "prompt_tokens": cfg.seq_len - train.answer_room}
        return lm.finish(cfg, rundir, model, strategy, start_state, tokenizer=tokenizer, val=val, test=test,
                         reference=test_reference, pretrain_run=pretrain_run_of(cfg.from_), record=record,
                         seconds=time.perf_counter() - start, tokens_per_s=tokens_per_s)
    finally:
        rundir.release()


def policy_rejected(model: CausalLM, pairs: list[Example], tokenizer, *, device, prompt_tokens: int,
                    show: bool = True, batch_size: int = 64,
                    max_new_tokens: int | None = None) -> tuple[list[Example], int]:
    """The pairs with `rejected` set to the model's own greedy answer wherever that is not the chosen
    one (compared without case and outer spaces), and how many were set: on-policy pairs, the mistakes
    this model makes, as iterative RPO (Pang et al. 2024) builds its pairs. Elsewhere the data's
    rejected answer stays, so every pair still teaches something. Answers are up to `max_new_tokens`
    long (default: the longest chosen answer + 2, at most `prompt_tokens`), each after the prompt's last
    `prompt_tokens` tokens: the prompt as the pairs' `InstructSet` cuts it."""
    if max_new_tokens is None:
        longest = max(len(tokenizer(p.chosen, add_special_tokens=False)["input_ids"]) for p in pairs) + 2
        max_new_tokens = min(longest, prompt_tokens)
    options = GenerateConfig(run="-", max_new_tokens=max_new_tokens)
    hf = model.hf_model().eval().to(device)
    out, replaced = [], 0
    with progress("answering the training prompts", len(pairs), enabled=show) as advance:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            answers = answer([prompt_ids(tokenizer, p.prompt)[-prompt_tokens:] for p in batch], hf, tokenizer, options)
            for pair, said in zip(batch, answers):
                said = said.strip()
                if said and said.casefold() != pair.chosen.strip().casefold():
                    pair, replaced = dataclasses.replace(pair, rejected=said), replaced + 1
                out.append(pair)
            advance(len(batch))
    log.info("on-policy pairs: the start model answered %d of %d training prompts otherwise than chosen; "
             "its answers are their rejected ones", replaced, len(pairs))
    return out, replaced


def chosen_chat(pair: Example) -> Example:
    """The pair's prompt answered with its chosen answer: an instruction with a reference."""
    return Example((*pair.prompt, {"role": "assistant", "content": pair.chosen}), pair.origin)


align = api_function(AlignConfig, run, "align",
                     "Align a causal LM to preference pairs (DPO / IPO); returns an LMResult (run folder, exact "
                     "match, preference accuracy, forgetting, ...).")
