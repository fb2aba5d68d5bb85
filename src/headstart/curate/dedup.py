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
O(N^2 D), so 1M rows take 100 times as long as 100k (timed by bench/selection_scale.py --dedup).

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


def neighbour_counts(x: torch.Tensor, threshold: float, chunk: int) -> torch.Tensor:
    """int64 `(N,)`: how many other rows each unit-norm row has at cosine >= threshold."""
    counts = torch.zeros(len(x), dtype=torch.long)
    for a, b in similar_pairs(x, threshold, chunk):
        counts += torch.bincount(a, minlength=len(x)) + torch.bincount(b, minlength=len(x))
    return counts


def leader_groups(x: torch.Tensor, counts: torch.Tensor, threshold: float) -> list[DuplicateGroup]:
    """Greedy leaders over the rows with a neighbour, most neighbours first (ties: lowest row).

    A leader takes every ungrouped candidate within `threshold` of it; one left alone (its
    neighbours all joined earlier groups) is no group. Members: leader first, then ascending.
    """
    rows = (counts > 0).nonzero().flatten()  # (M,) ascending
    local = x[rows]  # (M, D)
    free = torch.ones(len(rows), dtype=torch.bool)
    groups = []
    for i in torch.sort(counts[rows], descending=True, stable=True).indices.tolist():
        if not free[i]:
            continue
        sim = local @ local[i]  # (M,)
        take = free & (sim >= threshold)
        take[i], free[i] = False, False
        free &= ~take
        if take.any():
            others = take.nonzero().flatten()
            groups.append(DuplicateGroup(int(rows[i]), [int(rows[i])] + rows[others].tolist(),
                                         [1.0] + sim[others].tolist()))
    return sorted(groups, key=lambda g: min(g.members))


def near_duplicates(
    embeddings: torch.Tensor, threshold: float = 0.95, chunk: int = 4096
) -> list[DuplicateGroup]:
    """Groups of rows within cosine `threshold` of their group's representative (greedy leaders).

    Args:
        embeddings: `(N, D)` one row per image.
        threshold: cosine in (0, 1]; 0.95 catches resized or re-encoded copies of a photo.
        chunk: rows per block; a block is a `(chunk, chunk)` float matrix (64 MiB at 4096).

    Returns:
        Groups of two or more rows, ordered by their lowest row; in each, the representative (the
        row to keep) comes first, and every member's similarity to it is at least `threshold`.

    Example:
        >>> for g in near_duplicates(emb, threshold=0.97): print(g.representative, g.members)
    """
    check_embeddings(embeddings)
    if not 0 < threshold <= 1:
        raise HeadstartError(f"threshold must be a cosine in (0, 1], got {threshold}", fix="e.g. 0.95")
    x = normalize(embeddings)
    return leader_groups(x, neighbour_counts(x, threshold, max(1, chunk)), threshold)


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
