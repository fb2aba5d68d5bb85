"""`diverse`: greedy k-center (farthest-point) selection on the unit sphere.

Sener & Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set Approach"
(ICLR 2018): pick the row farthest from everything labeled or picked so far, which greedily
minimises the largest distance from any row to its nearest pick (a 2-approximation of the
k-center optimum, Gonzalez 1985). State is one `(N,)` vector of each row's highest cosine
similarity to the chosen set; a pick updates it with one matrix-vector product, O(N D).
"""

from __future__ import annotations

import torch

from headstart.curate.base import Selection, prepare, row_chunks

TAKEN = float("inf")  # similarity given to labeled and picked rows: never the farthest


def sphere_distance(sim: torch.Tensor) -> torch.Tensor:
    """L2 distance between unit vectors from their cosine similarity (-inf -> inf)."""
    return (2 - 2 * sim).clamp_min_(0).sqrt_()


def max_similarity(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """`(N,)` each row's highest cosine similarity to the rows `idx` of `x` (-inf if `idx` is empty)."""
    best = torch.full((len(x),), float("-inf"))
    for cols in row_chunks(len(idx), x.shape[1], budget=1 << 20):
        centres = x[idx[cols]]  # (c, D)
        for rows in row_chunks(len(x), len(centres)):
            best[rows] = torch.maximum(best[rows], (x[rows] @ centres.T).amax(dim=1))
    return best


def k_center_state(x: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """Starting similarity vector `(N,)`: to the labeled rows, and TAKEN for them."""
    sim = max_similarity(x, (~available).nonzero().flatten())
    sim[~available] = TAKEN
    return sim


def take(x: torch.Tensor, sim: torch.Tensor, j: int) -> None:
    """Add row `j` to the chosen set: one `(N, D) @ (D,)` product, in place."""
    torch.maximum(sim, x @ x[j], out=sim)
    sim[j] = TAKEN


def diverse(
    embeddings: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
) -> Selection:
    """Greedy k-center on L2-normalised embeddings, starting from the `exclude` (labeled) rows.

    Scores are each pick's L2 distance (on the unit sphere, in [0, 2]) to its nearest
    labeled-or-earlier pick at the time it was picked: the covering radius, non-increasing.
    With nothing excluded the first pick is a seeded random row and scores inf.

    Example:
        >>> sel = diverse(emb, 100, exclude=labeled_idx)
    """
    x, available = prepare(embeddings, n, exclude)
    sim = k_center_state(x, available)  # (N,)
    picks, scores = torch.empty(n, dtype=torch.long), torch.empty(n)
    for i in range(n):
        if i == 0 and available.all():
            free = available.nonzero().flatten()
            j = int(free[torch.randint(len(free), (1,), generator=torch.Generator().manual_seed(seed))])
        else:
            j = int(sim.argmin())
        picks[i], scores[i] = j, sphere_distance(sim[j])
        take(x, sim, j)
    return Selection(picks, scores)
