"""Forgetting of a fine-tuned text model, in `results.json` under `forgetting`:

- `perplexity`: the held-out perplexity of the pretraining run's language-model head
  (`exported/hf/`, an mlm or next-token run) on the held-out windows of its own corpus — the
  same windows and masks its monitor scored — with the start backbone (`before`), the fine-tuned
  one (`after`) and the blended one (`--blend`). The head stays the pretrained one: a rise says
  how far fine-tuning moved the features the language model reads;
- kNN before/after on labeled text (`--forgetting-data`, else the pretraining run's `--val-data`),
  as for images.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, PreTrainedModel
from transformers import logging as hf_logging

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.head import Classifier
from headstart.commands._finetune_finish import copy_backbone
from headstart.commands._pretrain_text import HELDOUT_WINDOWS, open_corpus
from headstart.data.text.textset import tokenize_corpus
from headstart.eval.perplexity import heldout_perplexity
from headstart.run import Run

LM_CLASSES = {"mlm": AutoModelForMaskedLM, "next-token": AutoModelForCausalLM}


def text_forgetting(cfg: FinetuneConfig, model: Classifier, start: dict, tuned: dict, device, *, tokenizer,
                    knn) -> dict | None:
    """kNN forgetting (`knn()`, images' rule) plus the perplexity forgetting; None from scratch."""
    if cfg.from_ == "scratch":
        return None
    out = knn() or {}
    ppl = perplexity_forgetting(cfg, model, start, tuned, device, tokenizer=tokenizer)
    if ppl is not None:
        out["perplexity"] = ppl
    return out


def perplexity_forgetting(cfg: FinetuneConfig, model: Classifier, start: dict, tuned: dict, device, *,
                          tokenizer) -> dict | None:
    """{data, objective, windows, before, after, increase (after - before)[, blended]}; a `skipped`
    reason when the start has no language-model head; None when `--from` is not a run folder."""
    path = Path(cfg.from_)
    if not path.is_dir():
        return None
    pre = Run(path)
    objective = pre.results().get("perplexity_kind") if pre.results_file.is_file() else None
    folder = pre.exported / "hf"
    if objective not in LM_CLASSES or not (folder / "config.json").is_file():
        return {"skipped": f"{path} has no language-model head (an mlm or next-token run has one)"}
    windows = heldout_windows(pre, tokenizer)
    lm = load_lm(folder, objective)
    special = sorted(set(tokenizer.all_special_ids))
    seed = int(pre.config.get("seed") or 0)

    def score(state: dict | None) -> float:
        base = model.backbone if state is None else copy_backbone(model, state)
        return lm_perplexity(lm, base.module, windows, objective=objective, pad_id=base.pad_id,
                             mask_id=tokenizer.mask_token_id, special_ids=special, seed=seed, device=device)

    out = {"data": pre.config.get("data"), "objective": objective, "windows": len(windows),
           "before": score(start), "after": score(tuned)}
    out["increase"] = out["after"] - out["before"]
    if cfg.blend is not None:
        out["blended"] = score(None)
    model.cpu()
    return out


def heldout_windows(pre: Run, tokenizer) -> torch.Tensor:
    """The held-out windows the pretraining run's monitor scored (its corpus split, seed and length)."""
    seed, seq_len = int(pre.config.get("seed") or 0), int(pre.config.get("seq_len") or 128)
    _, heldout = open_corpus(SimpleNamespace(data=pre.config["data"], seed=seed))
    packed = tokenize_corpus(heldout, tokenizer=tokenizer, max_length=seq_len).packed(seq_len)
    pick = np.sort(np.random.default_rng(seed).permutation(len(packed))[:HELDOUT_WINDOWS])
    return packed.__getitems__(pick.tolist())[0]


def load_lm(folder: Path, objective: str) -> PreTrainedModel:
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return LM_CLASSES[objective].from_pretrained(folder, local_files_only=True).eval()
    finally:
        hf_logging.set_verbosity(quiet)


@torch.no_grad()
def lm_perplexity(lm: PreTrainedModel, base: torch.nn.Module, windows: torch.Tensor, *, objective: str,
                  pad_id: int, mask_id: int | None, special_ids: list[int], seed: int, device) -> float:
    """Perplexity of `lm`'s head over the base model `base` (put in for the pretrained one, the output
    embedding tied to `base`'s input one as in pretraining); `lm` is left as it was."""
    prefix = lm.base_model_prefix
    kept = getattr(lm, prefix)
    setattr(lm, prefix, base)
    lm.tie_weights()
    was_training = base.training
    try:
        lm.to(device).eval()
        return heldout_perplexity(lambda ids: lm(input_ids=ids).logits, windows, objective=objective,
                                  pad_id=pad_id, mask_id=mask_id, vocab_size=int(lm.config.vocab_size),
                                  special_ids=special_ids, seed=seed, device=device)
    finally:
        setattr(lm, prefix, kept)
        lm.tie_weights()
        base.train(was_training)
        lm.cpu()
