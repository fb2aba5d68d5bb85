"""`typical`: the most representative rows of the densest uncovered regions (TypiClust).

Hacohen, Dekel & Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High and
Low Budgets" (ICML 2022): with few labels, label typical examples, not uncertain ones. Rows
are clustered into (labeled + n) k-means clusters; each pick goes to the cluster holding the
fewest labeled-or-picked rows (largest first) and takes its most typical row, where
typicality is the mean cosine similarity to the k nearest neighbours inside the cluster. A
row whose cosine to an earlier pick, or to a labeled row of its cluster, exceeds `duplicate`
is passed over, so the picks are typical but not near-identical (unless nothing else is left).

Cost: the clusters' kNN search is O(N * min(cluster size, reference) * D); big clusters
search a random reference sample of `reference` members, a kNN density at a coarser scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from headstart.curate.base import Selection, empty_selection, prepare, row_chunks
from headstart.curate.diverse import max_similarity
from headstart.curate.kmeans import kmeans


def knn_density(x: torch.Tensor, rows: torch.Tensor, ref: torch.Tensor, k: int) -> torch.Tensor:
    """`(len(rows),)` mean cosine similarity of `x[rows]` to their `k` nearest rows among `x[ref]`.

    x: unit-norm `(N, D)`; rows, ref: int64 indices into x, `ref` sorted. A row never counts
    itself as a neighbour; with no neighbour available the density is 0.
    """
    out = torch.zeros(len(rows))
    k = min(k, len(ref) - 1)
    if k < 1:
        return out
    pos = torch.searchsorted(ref, rows).clamp_max(len(ref) - 1)
    is_ref = ref[pos] == rows  # (M,) the row is in ref: mask its self-similarity
    neighbours = x[ref]  # (R, D)
    for chunk in row_chunks(len(rows), len(ref)):
        sim = x[rows[chunk]] @ neighbours.T  # (m, R)
        own = is_ref[chunk].nonzero().flatten()
        sim[own, pos[chunk][own]] = float("-inf")
        out[chunk] = sim.topk(k, dim=1).values.mean(dim=1)
    return out


@dataclass
class _Cluster:
    """One cluster's pickable rows, their typicality and similarity to what is taken there."""

    rows: torch.Tensor  # (m,) global indices of available members
    typicality: torch.Tensor  # (m,) -inf once picked
    taken_sim: torch.Tensor  # (m,) max cosine to labeled or picked members


def _open(
    x: torch.Tensor,
    members: torch.Tensor,
    available: torch.Tensor,
    k: int,
    reference: int,
    g: torch.Generator,
) -> _Cluster:
    """Typicality of a cluster's available members, and their similarity to its labeled ones."""
    local = x[members]  # (s, D)
    free = available[members]
    if len(members) > reference:
        ref = torch.randperm(len(members), generator=g)[:reference].sort().values
    else:
        ref = torch.arange(len(members))
    typicality = knn_density(local, free.nonzero().flatten(), ref, k)
    taken_sim = max_similarity(local, (~free).nonzero().flatten())[free]
    return _Cluster(members[free], typicality, taken_sim)


def _pick(x: torch.Tensor, cluster: _Cluster, picked: torch.Tensor, duplicate: float) -> tuple[int, float]:
    """Most typical member not near-identical to a taken one (else the least similar); updates state.

    picked: `(p, D)` earlier picks; a candidate is checked against them all, so no two picks
    are near-identical even across cluster borders.
    """
    while True:
        fresh = cluster.taken_sim <= duplicate
        if not fresh.any():
            i = int(torch.where(cluster.typicality > float("-inf"), cluster.taken_sim, float("inf")).argmin())
            break
        i = int(torch.where(fresh, cluster.typicality, float("-inf")).argmax())
        across = float((picked @ x[cluster.rows[i]]).max()) if len(picked) else float("-inf")
        if across <= duplicate:
            break
        cluster.taken_sim[i] = across
    row, score = int(cluster.rows[i]), float(cluster.typicality[i])
    cluster.taken_sim = torch.maximum(cluster.taken_sim, x[cluster.rows] @ x[row])
    cluster.typicality[i], cluster.taken_sim[i] = float("-inf"), float("inf")
    return row, score


def typical(
    embeddings: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
    k: int = 20,
    max_clusters: int = 500,
    reference: int = 2000,
    duplicate: float = 0.95,
) -> Selection:
    """TypiClust: one typical row per uncovered cluster, largest clusters first.

    Args:
        k: neighbours in the typicality (kNN density) estimate.
        max_clusters: cap on labeled + n clusters (TypiClust's 500); never fewer than n.
        reference: cluster members searched for neighbours at most (a random sample above).
        duplicate: cosine above which a row counts as near-identical to a taken one.

    Scores are the picks' typicality: mean cosine similarity to their k nearest neighbours.

    Example:
        >>> typical(emb, 50, exclude=labeled_idx)
    """
    x, available = prepare(embeddings, n, exclude)
    n_clusters = min(len(x), n + int((~available).sum()), max(n, max_clusters))
    if n == 0:
        return empty_selection()
    fit = kmeans(x, n_clusters, seed=seed)
    by_cluster = torch.sort(fit.labels, stable=True).indices
    members = torch.split(by_cluster, fit.sizes().tolist())
    covered = torch.bincount(fit.labels[~available], minlength=n_clusters)
    left = torch.bincount(fit.labels[available], minlength=n_clusters)
    order_key = covered * (len(x) + 1) - fit.sizes()  # fewest taken, then largest
    g, opened = torch.Generator().manual_seed(seed), {}
    picks, scores = torch.empty(n, dtype=torch.long), torch.empty(n)
    picked = torch.empty(n, x.shape[1])  # (n, D) the picks' embeddings so far
    for i in range(n):
        c = int(torch.where(left > 0, order_key, torch.iinfo(torch.long).max).argmin())
        if c not in opened:
            opened[c] = _open(x, members[c], available, k, reference, g)
        picks[i], scores[i] = _pick(x, opened[c], picked[:i], duplicate)
        picked[i] = x[picks[i]]
        order_key[c] += len(x) + 1
        left[c] -= 1
    return Selection(picks, scores)
