"""Near-duplicates by embedding cosine, exact duplicates by file content.

`near_duplicates` groups rows by greedy leader clustering ("star" cover): every row with at
least one neighbour at or above the threshold is ranked by how many it has (ties: lowest row);
in that order each row not yet in a group leads a new one and takes every ungrouped row within
the threshold of it. So EVERY member is within the threshold of its group's representative,
which is the image to keep. Why a leader and not the connected components of the similarity
graph (single link): components chain, a~b, b~c put a and c together however far apart they
are, and on a blurry embedding one component swallows a large share of the data. Why not
complete link (every pair within the threshold): its agglomeration needs the pairwise matrix
of the candidate rows or O(N^2) merges, while the leader needs one pass over the pairs to count
neighbours and then one `(M, D)` product per group (M: rows with a neighbour); its guarantee
still bounds any two members of a group: cos >= 2 t^2 - 1 (the angle to the leader at most
doubles). What is kept (the representatives and every ungrouped row) holds no two rows within
the threshold of each other: a later leader was still free when an earlier one took its
neighbours. Starting from the row with the most neighbours makes the representative the most
central row of a dense patch, and a duplicate pair (a row and its copy, one neighbour each)
a group of its own.

Counting neighbours compares all pairs in `(chunk, chunk)` blocks of `X @ X.T` (upper
triangle only, so N^2 / 2 dot products and never an N x N matrix). Exact all-pairs work is
O(N^2 D): 1M rows would take 100 times as long as 100k. So above `EXACT_UP_TO` rows the pairs
are searched within clusters (`Buckets`, an inverted-file index as in FAISS's IVF): spherical
k-means into about sqrt(N) clusters; each row lives in its nearest centre and visits its
`PROBES` nearest; a pair is compared when one row visits the other's cluster, in counting and
when a leader takes its group. Two rows at cosine >= 0.9 almost always share one of their three
nearest centres; the pairs missed are measured against the exact search (bench/million_files.py).
Work: O(N k D) to assign and about O(N * PROBES * N / k * D) for the pairs, O(N^1.5 D) at k = sqrt(N).

`exact_duplicates` groups files by size first and hashes (blake2b, read in 1 MiB chunks)
only files that share a size: first their first 64 KiB, then the whole file.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from headstart.curate.base import check_embeddings, normalize, row_chunks
from headstart.curate.kmeans import fit_centres
from headstart.errors import HeadstartError
from headstart.progress import progress as show_progress

PREFIX_BYTES = 1 << 16
READ_BYTES = 1 << 20
EXACT_UP_TO = 100_000  # rows; above, pairs are searched within clusters (`Buckets`)
PROBES = 3


@dataclass
class DuplicateGroup:
    """representative: its row (the image to keep); members: rows, representative first then
    ascending; similarity: each member's cosine to the representative (1.0 for itself)."""

    representative: int
    members: list[int]
    similarity: list[float]


def similar_pairs(
    x: torch.Tensor, threshold: float, chunk: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Per block, the pairs (a, b), a < b, of unit-norm rows with cosine >= threshold."""
    for i in range(0, len(x), chunk):
        for j in range(i, len(x), chunk):
            sim = x[i : i + chunk] @ x[j : j + chunk].T  # (c, c)
            hit = sim >= threshold
            if i == j:
                hit.triu_(diagonal=1)
            a, b = hit.nonzero().unbind(dim=1)
            yield a + i, b + j


def neighbour_counts(pairs: Iterator[tuple[torch.Tensor, torch.Tensor]], n_rows: int) -> torch.Tensor:
    """int64 `(N,)`: how many of the `pairs` (each met once) each row is in."""
    counts = torch.zeros(n_rows, dtype=torch.long)
    for a, b in pairs:
        counts += torch.bincount(a, minlength=n_rows) + torch.bincount(b, minlength=n_rows)
    return counts


class Buckets:
    """Rows by cluster for a search within clusters: spherical k-means centres (about sqrt(N)), each
    row's home (nearest centre) and its `probes` nearest centres, which it visits."""

    def __init__(self, x: torch.Tensor, probes: int = PROBES, seed: int = 0) -> None:
        k = max(1, min(len(x), round(math.sqrt(len(x)))))
        centres = fit_centres(x, k, seed=seed)
        p = min(probes, k)
        self.top = torch.empty(len(x), p, dtype=torch.long)
        for rows in row_chunks(len(x), k):
            self.top[rows] = (x[rows] @ centres.T).topk(p, dim=1).indices
        self.home = self.top[:, 0].contiguous()
        self.members = _by_key(self.home, torch.arange(len(x)), k)  # per cluster: rows living there
        self.visitors = _by_key(self.top.flatten(), torch.arange(len(x)).repeat_interleave(p), k)

    def pairs(self, x: torch.Tensor, threshold: float, chunk: int,
              progress: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every pair within `threshold` that shares a cluster, once: (a, b) with a visiting b's home.

        A pair whose rows each visit the other's home is met twice; it counts where the visitor
        is the lower row. Two rows at home in the same cluster count once, as (lower, higher)."""
        work = [len(m) * len(v) for m, v in zip(self.members, self.visitors, strict=True)]
        with show_progress("near-duplicates: pairs (million comparisons)", sum(work) // 10**6 + 1,
                           enabled=progress) as advance:
            for c, (members, visitors) in enumerate(zip(self.members, self.visitors, strict=True)):
                yield from self._cluster_pairs(x, threshold, chunk, c, members, visitors)
                advance(work[c] // 10**6)

    def _cluster_pairs(self, x: torch.Tensor, threshold: float, chunk: int, c: int, members: torch.Tensor,
                       visitors: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for q in visitors.split(chunk):
            at_home = (self.home[q] == c)[:, None]  # (q, 1)
            for m in members.split(chunk):
                lower = q[:, None] < m[None, :]
                met_twice = (self.top[m][None, :, :] == self.home[q][:, None, None]).any(dim=2)  # (q, m)
                keep = lower | ~(at_home | met_twice)
                hit = (x[q] @ x[m].T >= threshold) & keep
                a, b = hit.nonzero().unbind(dim=1)
                yield q[a], m[b]

    def candidates(self, i: int) -> torch.Tensor:
        """Rows that share a cluster with row `i` (repeats possible): those living where it visits,
        and those visiting its home."""
        return torch.cat([self.visitors[int(self.home[i])], *(self.members[int(c)] for c in self.top[i])])


def _by_key(keys: torch.Tensor, values: torch.Tensor, k: int) -> list[torch.Tensor]:
    """`values` split by `keys` in 0..k-1, ascending within each."""
    order = torch.sort(keys, stable=True).indices
    return list(values[order].split(torch.bincount(keys, minlength=k).tolist()))


def leader_groups(x: torch.Tensor, counts: torch.Tensor, threshold: float,
                  buckets: Buckets | None = None, progress: bool = False) -> list[DuplicateGroup]:
    """Greedy leaders over the rows with a neighbour, most neighbours first (ties: lowest row).

    A leader takes every ungrouped candidate within `threshold` of it (with `buckets`: among
    the rows sharing a cluster with it); one left alone (its neighbours all joined earlier groups)
    is no group. Members: leader first, then ascending.
    """
    rows = (counts > 0).nonzero().flatten()  # (M,) ascending
    local = x[rows] if buckets is None else None  # (M, D)
    free = torch.zeros(len(x), dtype=torch.bool)
    free[rows] = True
    groups = []
    with show_progress("near-duplicates: groups (rows with a neighbour)", len(rows), enabled=progress) as advance:
        for i in rows[torch.sort(counts[rows], descending=True, stable=True).indices].tolist():
            if free[i]:
                advance(_lead(i, x, rows, local, free, threshold, buckets, groups))
    return sorted(groups, key=lambda g: min(g.members))


def _lead(i: int, x: torch.Tensor, rows: torch.Tensor, local: torch.Tensor | None, free: torch.Tensor,
          threshold: float, buckets: Buckets | None, groups: list[DuplicateGroup]) -> int:
    """Row `i` leads a group of the free rows within `threshold` (appended to `groups` when it has any);
    returns how many rows it took, itself included."""
    free[i] = False
    if buckets is None:
        sim, near = local @ x[i], rows
        take = free[rows] & (sim >= threshold)
    else:
        near = torch.unique(buckets.candidates(i))  # ascending
        near = near[free[near]]
        sim = x[near] @ x[i]
        take = sim >= threshold
    if not take.any():
        return 1
    others = take.nonzero().flatten()
    free[near[others]] = False
    groups.append(DuplicateGroup(i, [i] + near[others].tolist(), [1.0] + sim[others].tolist()))
    return 1 + len(others)


def near_duplicates(
    embeddings: torch.Tensor, threshold: float = 0.95, chunk: int = 4096, *, search: str = "auto",
    progress: bool = False,
) -> list[DuplicateGroup]:
    """Groups of rows within cosine `threshold` of their group's representative (greedy leaders).

    Args:
        embeddings: `(N, D)` one row per image.
        threshold: cosine in (0, 1]; 0.95 catches resized or re-encoded copies of a photo.
        chunk: rows per block; a block is a `(chunk, chunk)` float matrix (64 MiB at 4096).
        search: `exact` compares all pairs; `clusters` only pairs that share a cluster (see the
            module doc); `auto` is exact up to `EXACT_UP_TO` rows.
        progress: show the cluster search's progress (a bar, or lines in a log file).

    Returns:
        Groups of two or more rows, ordered by their lowest row; in each, the representative (the
        row to keep) comes first, and every member's similarity to it is at least `threshold`.

    Example:
        >>> for g in near_duplicates(emb, threshold=0.97): print(g.representative, g.members)
    """
    check_embeddings(embeddings)
    if not 0 < threshold <= 1:
        raise HeadstartError(f"threshold must be a cosine in (0, 1], got {threshold}", fix="e.g. 0.95")
    if search not in ("auto", "exact", "clusters"):
        raise HeadstartError(f"unknown search {search!r}", fix="use auto, exact or clusters")
    x = normalize(embeddings)
    chunk = max(1, chunk)
    if search == "exact" or (search == "auto" and len(x) <= EXACT_UP_TO):
        return leader_groups(x, neighbour_counts(similar_pairs(x, threshold, chunk), len(x)), threshold)
    buckets = Buckets(x)
    counts = neighbour_counts(buckets.pairs(x, threshold, chunk, progress), len(x))
    return leader_groups(x, counts, threshold, buckets, progress)


def kept_rows(groups: Sequence[DuplicateGroup], n_rows: int) -> torch.Tensor:
    """int64 rows left after dropping every group member but its representative."""
    keep = torch.ones(n_rows, dtype=torch.bool)
    for g in groups:
        keep[g.members[1:]] = False
    return keep.nonzero().flatten()


def _digest(path: str | Path, limit: int | None) -> bytes:
    h, left = hashlib.blake2b(digest_size=32), limit
    try:
        with open(path, "rb") as f:
            while left is None or left > 0:
                block = f.read(READ_BYTES if left is None else min(READ_BYTES, left))
                if not block:
                    break
                h.update(block)
                left = None if left is None else left - len(block)
    except OSError as err:
        raise HeadstartError(
            f"cannot read {path}: {err.strerror}", fix="check the file exists and is readable"
        ) from None
    return h.digest()


def _split(groups: list[list[int]], key: Callable[[int], object]) -> list[list[int]]:
    """Each group split by `key`, keeping the parts of two or more, order kept."""
    out = []
    for group in groups:
        by_key = defaultdict(list)
        for i in group:
            by_key[key(i)].append(i)
        out += [part for part in by_key.values() if len(part) > 1]
    return out


def _size(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as err:
        raise HeadstartError(f"cannot read {path}: {err.strerror}", fix="check the path exists") from None


def exact_duplicates(paths: Sequence[str | Path]) -> list[list[str | Path]]:
    """Groups of files with identical bytes: same size, then same blake2b of prefix, then of all.

    Returns:
        Groups of two or more of the given paths, each in input order, ordered by first member.

    Example:
        >>> exact_duplicates(sorted(Path("photos").rglob("*.jpg")))
    """
    sizes = [_size(p) for p in paths]
    groups = _split([list(range(len(paths)))], sizes.__getitem__)
    groups = _split(groups, lambda i: _digest(paths[i], PREFIX_BYTES))
    groups = _split(groups, lambda i: sizes[i] <= PREFIX_BYTES or _digest(paths[i], None))
    return [[paths[i] for i in g] for g in sorted(groups)]
