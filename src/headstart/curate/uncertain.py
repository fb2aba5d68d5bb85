"""`uncertain`: active learning by the model's own doubt, from softmax outputs.

Margin sampling picks the smallest gap between the two most probable classes (Scheffer et
al. 2001); entropy sampling the largest predictive entropy (Shannon; Settles 2009, "Active
Learning Literature Survey", sec. 3.1). Both need `probs (N, K)`: softmax outputs of the
current model on every row, e.g. from `headstart predict`.
"""

from __future__ import annotations

from typing import Literal

import torch

from headstart.curate.base import Selection, check_inputs
from headstart.errors import HeadstartError

Measure = Literal["margin", "entropy"]
MEASURES = ("margin", "entropy")


def check_probs(probs: torch.Tensor | None, n_rows: int) -> torch.Tensor:
    """float32 `(N, K)` probabilities, or HeadstartError saying what to pass."""
    if probs is None:
        raise HeadstartError(
            "uncertainty needs the model's class probabilities, but probs is missing",
            fix="pass probs=(N, K) softmax outputs of the current model (e.g. from `headstart predict`)",
        )
    probs = torch.as_tensor(probs).float()
    if probs.ndim != 2 or len(probs) != n_rows or probs.shape[1] < 2:
        raise HeadstartError(
            f"probs must be (N, K) with N = {n_rows} rows and K >= 2 classes, got {tuple(probs.shape)}",
            fix="pass one softmax row per embedding row, in the same order",
        )
    off = (probs.sum(dim=1) - 1).abs()
    if len(probs) and (not torch.isfinite(probs).all() or probs.min() < 0 or off.max() > 1e-3):
        raise HeadstartError(
            "probs rows must be non-negative and sum to 1 (these look like logits or scores)",
            fix="apply softmax over the class dimension first: probs = logits.softmax(dim=1)",
        )
    return probs


def measure(probs: torch.Tensor, kind: Measure = "margin") -> torch.Tensor:
    """`(N,)` the measure itself: margin p1 - p2 (low = uncertain) or entropy in nats (high = uncertain)."""
    if kind == "margin":
        top2 = probs.topk(2, dim=1).values  # (N, 2)
        return top2[:, 0] - top2[:, 1]
    if kind == "entropy":
        return -(probs * probs.clamp_min(1e-12).log()).sum(dim=1)
    raise HeadstartError(f"unknown uncertainty measure {kind!r}", fix=f"use one of {', '.join(MEASURES)}")


def doubt(probs: torch.Tensor, kind: Measure = "margin") -> torch.Tensor:
    """`(N,)` higher = more uncertain, for either measure (what combinations rank by)."""
    value = measure(probs, kind)
    return -value if kind == "margin" else value


def uncertain(
    embeddings: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
    uncertainty: Measure = "margin",
) -> Selection:
    """The `n` available rows the model is least sure of, most uncertain first.

    Scores are the measure: the margin p1 - p2 (ascending) or the entropy (descending).
    Ties go to the lower row index; `seed` is unused (the ranking is deterministic).

    Example:
        >>> uncertain(emb, 50, probs=logits.softmax(1), uncertainty="entropy")
    """
    available = check_inputs(embeddings, n, exclude)
    probs = check_probs(probs, len(embeddings))
    key = doubt(probs, uncertainty)
    key[~available] = float("-inf")
    order = torch.sort(key, descending=True, stable=True).indices[:n]
    return Selection(order, measure(probs[order], uncertainty))
