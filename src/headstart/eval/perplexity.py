"""Held-out perplexity of a language model: exp of the mean cross-entropy per predicted token.

- "mlm": masked-token perplexity. Each window is masked as in training (15%, 80/10/10) from a
  generator seeded with `seed`, so every measurement of a run (and of the exported model)
  scores the same positions with the same inputs;
- "next-token": every position predicts the next token (padding never counted).

`logits_fn` maps int64 ids `(B, T)` to logits `(B, T, V)`: a method's head, or a `transformers`
`*ForMaskedLM` / `*ForCausalLM` (`lambda ids: lm(input_ids=ids).logits`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from headstart.data.text.masking import IGNORE, mask_tokens
from headstart.errors import HeadstartError

OBJECTIVES = ("mlm", "next-token")


@torch.no_grad()
def heldout_perplexity(logits_fn: Callable[[torch.Tensor], torch.Tensor], windows: torch.Tensor, *,
                       objective: str, pad_id: int, mask_id: int | None = None, vocab_size: int = 0,
                       special_ids: Sequence[int] = (), seed: int = 0, batch_size: int = 64,
                       device: torch.device | str = "cpu") -> float:
    """Perplexity of `logits_fn` on `windows` (int64 `(N, T)`); see the module doc.

    Example:
        >>> heldout_perplexity(lambda x: lm(input_ids=x).logits, windows, objective="next-token", pad_id=2)
    """
    if objective not in OBJECTIVES:
        raise HeadstartError(f"no perplexity for objective {objective!r}", fix=f"use one of {', '.join(OBJECTIVES)}")
    gen = torch.Generator(device=device).manual_seed(seed)
    total, count = 0.0, 0
    for start in range(0, len(windows), batch_size):
        ids = windows[start:start + batch_size].to(device)
        if objective == "mlm":
            inputs, labels = mask_tokens(ids, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids,
                                         generator=gen)
            logits = logits_fn(inputs)
        else:
            logits = logits_fn(ids)[:, :-1]
            labels = ids[:, 1:].masked_fill(ids[:, 1:] == pad_id, IGNORE)
        total += F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="sum").item()
        count += int((labels != IGNORE).sum())
    if count == 0:
        raise HeadstartError("the held-out sample has no token to predict", fix="use more held-out text")
    return math.exp(total / count)
