"""`balanced`: k-means clusters, the same number of picks from each, nearest their centres.

A stratified sample over unsupervised strata: when classes are imbalanced, random picks
follow the imbalance, while equal picks per cluster give rare modes of the data their share
(cluster-based sampling, e.g. Nguyen & Smeulders 2004; the k-means "prototype" baseline of
Hacohen et al. 2022). Picks are interleaved round-robin over clusters (largest cluster
first), so every prefix of the selection is balanced too. A cluster with too few rows left
gives its share to the others.
"""

from __future__ import annotations

import math

import torch

from headstart.curate.base import Selection, empty_selection, prepare
from headstart.curate.kmeans import kmeans


def default_clusters(n: int) -> int:
    """sqrt(n) clusters: as many clusters as picks per cluster."""
    return max(1, round(math.sqrt(n)))


def round_robin(labels: torch.Tensor, key: torch.Tensor, k: int) -> torch.Tensor:
    """All rows ordered by (rank within own cluster by `key` desc, cluster size desc, cluster id).

    labels: int64 `(M,)` cluster of each row; key: `(M,)` higher is picked first in a cluster.
    """
    by_key = torch.sort(key, descending=True, stable=True).indices
    order = by_key[torch.sort(labels[by_key], stable=True).indices]  # grouped by cluster, key desc
    sizes = torch.bincount(labels, minlength=k)
    starts = sizes.cumsum(0) - sizes
    rank = torch.arange(len(labels)) - starts[labels[order]]  # position within own cluster
    cluster_rank = torch.empty(k, dtype=torch.long)
    cluster_rank[torch.sort(sizes, descending=True, stable=True).indices] = torch.arange(k)
    turn = rank * k + cluster_rank[labels[order]]
    return order[torch.sort(turn, stable=True).indices]


def balanced(
    embeddings: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
    clusters: int | None = None,
) -> Selection:
    """Equal picks from each of `clusters` k-means clusters, the rows nearest each centre first.

    k-means runs on all rows (labeled ones included, they shape the clusters); only rows not
    in `exclude` are picked. Scores are each pick's cosine similarity to its cluster centre.
    `clusters` defaults to round(sqrt(n)) and is capped at n.

    Example:
        >>> balanced(emb, 100, clusters=10)   # 10 picks from each of 10 clusters
    """
    x, available = prepare(embeddings, n, exclude)
    if n == 0:
        return empty_selection()
    k = min(n, clusters or default_clusters(n))
    fit = kmeans(x, k, seed=seed)
    free = available.nonzero().flatten()
    picks = free[round_robin(fit.labels[free], fit.sim[free], k)[:n]]
    return Selection(picks, fit.sim[picks])
