"""The figures of a language-model run (`finetune --task instruct`, `align`, `evaluate` on them):

- `exact_match` on held-out instructions (greedy answer == reference, `adapt.instruct_infer`);
- `preference`: accuracy (chosen log-prob > rejected) and mean log-prob margin on held-out pairs,
  and the implicit reward margin against the run's start model (its reference);
- `forgetting.perplexity`: next-token perplexity on the held-out windows of the pretraining
  corpus (the pretraining run's own windows), of the pretrained model (`before`) and of this one
  (`after`): how much of the language model instruction tuning cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from headstart.adapt.causal_lm import CausalLM, load_causal_lm
from headstart.adapt.instruct_infer import answer_logps, greedy_matches
from headstart.commands._finetune_text import heldout_windows
from headstart.data.text.instruct import Example, InstructSet
from headstart.data.text.instruct_sources import eval_views
from headstart.eval.instruct import exact_match, preference_metrics
from headstart.eval.perplexity import heldout_perplexity
from headstart.run import Run


class EvalSets:
    """Tokenized held-out instructions and pairs of one `--data` split."""

    def __init__(self, spec: str, tokenizer, *, split: str, seq_len: int) -> None:
        sft, pairs = eval_views(spec, split=split)
        self.source = f"{spec}:{split}" if ":" not in spec else spec
        self.sft = InstructSet(sft, tokenizer, max_length=seq_len)
        self.pairs = InstructSet(pairs, tokenizer, max_length=seq_len) if pairs else None

    @classmethod
    def of(cls, examples: list[Example], tokenizer, *, seq_len: int, source: str,
           pairs: list[Example] | None = None) -> EvalSets:
        """From examples in memory (a validation share): instructions, and pairs when given."""
        out = object.__new__(cls)
        out.source = source
        out.sft = InstructSet(examples, tokenizer, max_length=seq_len)
        out.pairs = InstructSet(pairs, tokenizer, max_length=seq_len) if pairs else None
        return out


def score(model: CausalLM, sets: EvalSets, *, device, reference: np.ndarray | None = None,
          beta: float = 0.1) -> dict:
    """{data, instructions, exact_match[, preference]} of `model` (see module doc)."""
    out = {"data": sets.source, "instructions": len(sets.sft),
           "exact_match": exact_match(greedy_matches(model, sets.sft, device=device))}
    if sets.pairs is not None:
        logps, _ = answer_logps(model, sets.pairs, device=device)
        out["preference"] = preference_metrics(logps, reference, beta=beta)
    return out


def pair_logps(model: CausalLM, sets: EvalSets, *, device) -> np.ndarray | None:
    """The `(N, 2)` answer log-probs of the held-out pairs (a reference's), None without pairs."""
    return answer_logps(model, sets.pairs, device=device)[0] if sets.pairs is not None else None


def pretrain_run_of(source: str) -> Path | None:
    """The next-token pretraining run behind `--from`: the run itself, or the one an instruct/align
    run recorded; None from scratch or an `hf:` folder."""
    path = Path(source)
    if source == "scratch" or not path.is_dir():
        return None
    run = Run(path)
    if run.method == "next-token":
        return path
    recorded = run.results().get("pretrain_run")
    return Path(recorded) if recorded else None


def perplexity_forgetting(model: CausalLM, pretrain_run: Path | None, tokenizer, *, device,
                          blended: CausalLM | None = None) -> dict | None:
    """{data, windows, before, after, increase}: the pretrained model's and `model`'s held-out perplexity."""
    if pretrain_run is None or not (pretrain_run / "exported" / "hf" / "config.json").is_file():
        return None
    pre = Run(pretrain_run)
    windows = heldout_windows(pre, tokenizer)
    before = lm_perplexity(load_causal_lm(str(pretrain_run)), windows, device=device)
    after = lm_perplexity(model, windows, device=device)
    return {"data": pre.config.get("data"), "run": str(pretrain_run), "windows": len(windows),
            "before": before, "after": after, "increase": after - before}


def lm_perplexity(model: CausalLM, windows: torch.Tensor, *, device) -> float:
    was_training = model.training
    model.to(device).eval()
    try:
        return heldout_perplexity(lambda ids: model(ids), windows, objective="next-token",
                                  pad_id=model.backbone.pad_id, device=device)
    finally:
        model.train(was_training)


def evaluate_lm(cfg, run: Run) -> dict:
    """`headstart evaluate` on an instruct / align run: `--data`'s test split (a named set) or file,
    the reward margin against the run's start model, and the forgetting perplexity."""
    from headstart.adapt.infer import default_device
    from headstart.models.factory import run_tokenizer

    tokenizer = run_tokenizer(run)
    seq_len = int(run.config.get("seq_len") or 128)
    sets = EvalSets(cfg.data, tokenizer, split="test", seq_len=seq_len)
    device = default_device("auto")
    model = load_causal_lm(str(run.path))
    reference = None
    start = str(run.config.get("from_") or run.config.get("from") or "")
    if sets.pairs is not None and start and start != "scratch" and (Path(start).is_dir() or start.startswith("hf:")):
        reference = pair_logps(load_causal_lm(start), sets, device=device)
    beta = float(run.config.get("beta") or 0.1)
    out = score(model, sets, device=device, reference=reference, beta=beta)
    pre = run.results().get("pretrain_run")
    out["forgetting"] = {"perplexity": perplexity_forgetting(model, Path(pre) if pre else None, tokenizer,
                                                             device=device)}
    return {"evaluation": out}
