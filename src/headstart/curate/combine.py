"""`combine`: a weighted blend of strategies, picked greedily one row at a time.

Ranked batch-mode sampling (Cardoso, Silva & Ferreira, "Ranked batch-mode active learning",
Information Sciences 2017) scores every row by a * (distance to the labeled-and-picked set)
+ (1 - a) * uncertainty, takes the best, updates the distances and repeats. This generalises
it to any weights over `diverse`, `uncertain`, `typical` and `random`:

    score(x) = w_d * d(x) / max d + sum_s w_s * rank_s(x)

d(x) is the k-center distance of `diverse` (updated after each pick, one O(N D) product);
rank_s(x) in [0, 1] is x's rank under a fixed per-row score (uncertainty, kNN density, a
random key). Ranks make scores of different scales and skews commensurable; dividing d by
its current maximum keeps the diversity term in [0, 1] as the covering radius shrinks.
Why a sequential score and not "top-m uncertain, then k-center": every pick still weighs
both terms, a weight of 0 or 1 turns a term off or reduces to that strategy's ranking (up
to the first pick of pure `diverse`, which is the best-ranked rather than a random row),
and no pool size m has to be guessed.
"""

from __future__ import annotations

import math

import torch

from headstart.curate.base import Selection, prepare, ranks01
from headstart.curate.diverse import TAKEN, k_center_state, sphere_distance
from headstart.curate.typical import knn_density
from headstart.curate.uncertain import Measure, check_probs, doubt
from headstart.errors import HeadstartError

TERMS = ("diverse", "random", "typical", "uncertain")
DEFAULT_WEIGHTS = {"diverse": 0.5, "uncertain": 0.5}


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    """Weights normalised to sum 1, or HeadstartError naming the bad key or value."""
    unknown = sorted(set(weights) - set(TERMS))
    if unknown:
        raise HeadstartError(f"cannot combine {unknown}", fix=f"weights may name: {', '.join(TERMS)}")
    if any(not isinstance(w, (int, float)) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise HeadstartError(
            f"combine weights must be non-negative with a positive sum, got {weights}",
            fix='e.g. weights={"diverse": 0.5, "uncertain": 0.5}',
        )
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items() if w > 0}


def static_scores(
    x: torch.Tensor,
    weights: dict[str, float],
    probs: torch.Tensor | None,
    seed: int,
    uncertainty: Measure,
    k: int,
    reference: int,
) -> torch.Tensor:
    """`(N,)` sum of weight * rank of the per-row terms (all but `diverse`)."""
    g = torch.Generator().manual_seed(seed)
    total = torch.zeros(len(x))
    if "uncertain" in weights:
        total += weights["uncertain"] * ranks01(doubt(check_probs(probs, len(x)), uncertainty))
    if "typical" in weights:
        ref = torch.randperm(len(x), generator=g)[:reference].sort().values
        total += weights["typical"] * ranks01(knn_density(x, torch.arange(len(x)), ref, k))
    if "random" in weights:
        total += weights["random"] * torch.rand(len(x), generator=g)
    return total


def combine(
    embeddings: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
    weights: dict[str, float] | None = None,
    uncertainty: Measure = "margin",
    k: int = 20,
    reference: int = 10_000,
) -> Selection:
    """Greedy picks by `w_d * d / max d + sum_s w_s * rank_s`, updating d after each pick.

    Args:
        weights: over "diverse", "uncertain", "typical", "random"; default 0.5 diverse +
            0.5 uncertain; normalised to sum 1. "uncertain" needs `probs`.
        uncertainty: "margin" or "entropy", as in `uncertain`.
        k, reference: kNN density for "typical": neighbours, and the random reference sample.

    Scores are each pick's combined score at the time it was picked, in [0, 1].

    Example:
        >>> combine(emb, 100, probs=p, weights={"diverse": 0.3, "uncertain": 0.7})
    """
    weights = check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    x, available = prepare(embeddings, n, exclude)
    score = static_scores(x, weights, probs, seed, uncertainty, k, reference)  # (N,)
    if "diverse" not in weights:  # nothing to update: one ranking
        top = torch.where(available, score, float("-inf")).topk(n)
        return Selection(top.indices, top.values)
    return _greedy(x, k_center_state(x, available), score, weights["diverse"], n)


def _greedy(x: torch.Tensor, sim: torch.Tensor, score: torch.Tensor, w_d: float, n: int) -> Selection:
    """n picks of argmax(score + w_d * d / max d), d the k-center distance, updated per pick."""
    score = torch.where(sim == TAKEN, float("-inf"), score)  # (N,) labeled rows never win
    dist = sphere_distance(sim)  # (N,) 0 where taken, inf while nothing is labeled or picked
    picks, scores = torch.empty(n, dtype=torch.long), torch.empty(n)
    for i in range(n):
        d_max = float(dist.max())
        total = score if math.isinf(d_max) else torch.add(score, dist, alpha=w_d / max(d_max, 1e-12))
        j = int(total.argmax())
        picks[i], scores[i] = j, total[j] + (w_d if math.isinf(d_max) else 0.0)
        torch.minimum(dist, sphere_distance(x @ x[j]), out=dist)
        score[j] = float("-inf")
    return Selection(picks, scores)
