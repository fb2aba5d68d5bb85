"""Near-duplicates by embedding cosine, exact duplicates by file content.

`near_duplicates` compares all pairs in `(chunk, chunk)` blocks of `X @ X.T` (upper triangle
only, so N^2 / 2 dot products and never an N x N matrix), keeps the pairs at or above the
threshold and joins them with a vectorised union-find (hooking roots to the smaller root,
Shiloach & Vishkin 1982), so a group is a connected component of the similarity graph: a
chain a~b~c groups a and c even when cos(a, c) is below the threshold, which each member's
similarity to the representative makes visible. Exact all-pairs work is O(N^2 D), so 1M rows
take 100 times as long as 100k (timed by bench/selection_scale.py --dedup).

`exact_duplicates` groups files by size first and hashes (blake2b, read in 1 MiB chunks)
only files that share a size: first their first 64 KiB, then the whole file.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from headstart.curate.base import check_embeddings, normalize
from headstart.errors import HeadstartError

PREFIX_BYTES = 1 << 16
READ_BYTES = 1 << 20


@dataclass
class DuplicateGroup:
    """representative: its row; members: rows, representative first then ascending;
    similarity: each member's cosine to the representative (1.0 for itself)."""

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


def find(parent: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """Roots of `nodes` (parent[r] == r), following parents until nothing changes."""
    roots = parent[nodes]
    while not torch.equal(up := parent[roots], roots):
        roots = up
    return roots


def union(parent: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """Join the sets of a[i] and b[i] for every i, in place; a root always hooks to a smaller one."""
    while len(a):
        ra, rb = find(parent, a), find(parent, b)
        apart = ra != rb
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        parent.scatter_reduce_(0, torch.maximum(ra, rb), torch.minimum(ra, rb), reduce="amin")


def _group(x: torch.Tensor, rows: torch.Tensor) -> DuplicateGroup:
    """The most central row (highest mean cosine to the others; ties: lowest index) represents."""
    local = x[rows]  # (m, D)
    centrality = (local * (local.sum(dim=0, keepdim=True) - local)).sum(dim=1)  # (m,) sum of cosines
    rep = int(rows[int((centrality >= centrality.max() - 1e-6).nonzero()[0])])
    members = [rep] + [int(r) for r in rows if r != rep]
    similarity = (x[members] @ x[rep]).tolist()
    similarity[0] = 1.0
    return DuplicateGroup(rep, members, similarity)


def near_duplicates(
    embeddings: torch.Tensor, threshold: float = 0.95, chunk: int = 4096
) -> list[DuplicateGroup]:
    """Groups of rows whose cosine similarity is at or above `threshold`, chained transitively.

    Args:
        embeddings: `(N, D)` one row per image.
        threshold: cosine in (0, 1]; 0.95 catches resized or re-encoded copies of a photo.
        chunk: rows per block; a block is a `(chunk, chunk)` float matrix (64 MiB at 4096).

    Returns:
        Groups of two or more rows, ordered by their lowest row.

    Example:
        >>> for g in near_duplicates(emb, threshold=0.97): print(g.representative, g.members)
    """
    check_embeddings(embeddings)
    if not 0 < threshold <= 1:
        raise HeadstartError(f"threshold must be a cosine in (0, 1], got {threshold}", fix="e.g. 0.95")
    x = normalize(embeddings)
    parent = torch.arange(len(x))
    for a, b in similar_pairs(x, threshold, max(1, chunk)):
        union(parent, a, b)
    roots = find(parent, torch.arange(len(x)))
    size = torch.bincount(roots, minlength=len(x))
    grouped = (size[roots] > 1).nonzero().flatten()  # ascending rows
    grouped = grouped[torch.sort(roots[grouped], stable=True).indices]  # by root, rows ascending
    counts = torch.unique_consecutive(roots[grouped], return_counts=True)[1]
    return [_group(x, rows) for rows in torch.split(grouped, counts.tolist())]


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
