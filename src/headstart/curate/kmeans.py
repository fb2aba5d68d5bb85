"""Spherical k-means for unit-norm embeddings, fitted on a sample and assigned in chunks.

k-means++ seeding (Arthur & Vassilvitskii 2007), Lloyd steps (Lloyd 1982) with centres
re-normalised to the sphere (spherical k-means, Dhillon & Modha 2001), so assignment is by
highest cosine similarity. The fit runs on a random sample of ~40 rows per cluster (at least
10k; k-means++ seeding on 10 per cluster), plenty to place k centres; then every row is
assigned in one chunked pass: O(N k D) once, instead of once per Lloyd step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from headstart.curate.base import row_chunks
from headstart.errors import HeadstartError

FIT_ROWS = 10_000  # the fit sample has max(FIT_ROWS, per_cluster * k) rows (all if fewer)
SEED_ROWS = 10_000  # k-means++ runs on max(SEED_ROWS, 10 k) rows of the fit sample


@dataclass
class Clusters:
    """centres: `(k, D)` unit rows; labels: int64 `(N,)`; sim: `(N,)` cosine to own centre."""

    centres: torch.Tensor
    labels: torch.Tensor
    sim: torch.Tensor

    def sizes(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=len(self.centres))


def assign(x: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre by cosine for every row of unit-norm `x (N, D)`: labels `(N,)`, sim `(N,)`."""
    labels = torch.empty(len(x), dtype=torch.long)
    sim = torch.empty(len(x), dtype=torch.float32)
    for rows in row_chunks(len(x), len(centres)):
        sim[rows], labels[rows] = (x[rows] @ centres.T).max(dim=1)  # (rows, k) -> (rows,)
    return labels, sim


def cluster_sums(x: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """`(k, D)` sum of the rows of each cluster, as a sparse one-hot `(k, N)` @ `x (N, D)`.

    A sparse product is 2-3x faster than `index_add_` on CPU, and needs no dense one-hot.
    """
    rows = torch.arange(len(x))
    one_hot = torch.sparse_coo_tensor(
        torch.stack([labels, rows]), torch.ones(len(x)), (k, len(x)), check_invariants=False
    )
    return torch.sparse.mm(one_hot, x)


def kmeans_pp(x: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """k-means++ seeds `(k, D)`: each next seed drawn proportional to squared distance."""
    chosen = [int(torch.randint(len(x), (1,), generator=g))]
    d2 = (2 - 2 * (x @ x[chosen[0]])).clamp_min_(0)  # (N,) squared L2 on the sphere
    for _ in range(1, k):
        if d2.sum() <= 0:  # every row sits on a seed: any unused row will do
            d2 = torch.ones_like(d2).index_fill_(0, torch.tensor(chosen), 0)
        chosen.append(int(torch.multinomial(d2, 1, generator=g)))
        torch.minimum(d2, (2 - 2 * (x @ x[chosen[-1]])).clamp_min_(0), out=d2)
    return x[chosen].clone()


def lloyd(x: torch.Tensor, centres: torch.Tensor, iters: int) -> torch.Tensor:
    """Spherical Lloyd steps until labels stop changing; empty clusters take the worst-fit rows."""
    k, previous = len(centres), None
    for _ in range(iters):
        labels, sim = assign(x, centres)
        if previous is not None and torch.equal(labels, previous):
            break
        sums = cluster_sums(x, labels, k)  # (k, D)
        empty = torch.bincount(labels, minlength=k) == 0
        if empty.any():
            worst = sim.topk(int(empty.sum()), largest=False).indices
            sums[empty] = x[worst]
        centres, previous = F.normalize(sums, dim=1), labels
    return centres


def kmeans(x: torch.Tensor, k: int, *, seed: int = 0, iters: int = 20, per_cluster: int = 40) -> Clusters:
    """Spherical k-means of unit-norm rows `x (N, D)` into `k` clusters.

    Args:
        x: L2-normalised float32 rows (see `base.normalize`).
        k: number of clusters, 1 <= k <= N.
        seed: fixes the sample, the seeds and so the result.
        iters: at most this many Lloyd steps on the sample.
        per_cluster: sample size per cluster for the fit (at least 10k rows, at most N).

    Returns:
        `Clusters` with every row of `x` assigned.

    Example:
        >>> c = kmeans(normalize(emb), 10, seed=0); c.sizes()
    """
    if not 1 <= k <= len(x):
        raise HeadstartError(
            f"cannot make {k} clusters from {len(x)} rows", fix=f"use between 1 and {len(x)} clusters"
        )
    centres = fit_centres(x, k, seed=seed, iters=iters, per_cluster=per_cluster)
    labels, sim = assign(x, centres)
    return Clusters(centres, labels, sim)


def fit_centres(x: torch.Tensor, k: int, *, seed: int = 0, iters: int = 20, per_cluster: int = 40) -> torch.Tensor:
    """The `(k, D)` unit centres of `kmeans` (fitted on its sample), without assigning every row."""
    g = torch.Generator().manual_seed(seed)
    n_fit = min(len(x), max(FIT_ROWS, per_cluster * k))
    fit = x if n_fit == len(x) else x[torch.randperm(len(x), generator=g)[:n_fit]]
    seeds = kmeans_pp(fit[torch.randperm(len(fit), generator=g)[: max(SEED_ROWS, 10 * k)]], k, g)
    return lloyd(fit, seeds, iters)
