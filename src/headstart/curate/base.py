"""What every selection strategy shares: the `Selection` result, input checks, chunking.

A strategy is `fn(embeddings (N, D), n, *, seed=0, exclude=None, probs=None, **options) ->
Selection`. All geometry is cosine: embeddings are L2-normalised once (`prepare`), so a dot
product is a cosine similarity and `sqrt(2 - 2 cos)` the L2 distance on the unit sphere.
Work over N is done in row chunks (`row_chunks`) so no (N, N) or large (N, k) matrix is
ever held; memory beyond the normalised copy of the embeddings (none when they are unit-length
float32 already) stays in the tens of MiB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from headstart.errors import HeadstartError

BLOCK_ELEMENTS = 1 << 22  # floats per temporary block: 16 MiB


@dataclass
class Selection:
    """Picked rows in pick order, and what the strategy ranked each one by.

    Attributes:
        indices: int64 `(n,)` row indices into the embeddings, in pick order, no repeats.
        scores: float32 `(n,)` the value each pick was chosen by (see each strategy).
    """

    indices: torch.Tensor
    scores: torch.Tensor

    def __len__(self) -> int:
        return len(self.indices)


class Strategy(Protocol):
    def __call__(
        self,
        embeddings: torch.Tensor,
        n: int,
        *,
        seed: int = 0,
        exclude: torch.Tensor | None = None,
        probs: torch.Tensor | None = None,
    ) -> Selection: ...


def row_chunks(n_rows: int, cols: int, budget: int = BLOCK_ELEMENTS) -> Iterator[slice]:
    """Row slices of `n_rows` such that a `(rows, cols)` float block stays within `budget`."""
    step = max(1, budget // max(1, cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def check_embeddings(embeddings: torch.Tensor) -> None:
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2:
        shape = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings)
        raise HeadstartError(
            f"embeddings must be a 2-D tensor (N, D), got {shape}",
            fix="pass one embedding row per image, e.g. the output of `headstart embed`",
        )
    if embeddings.dtype == torch.bool or embeddings.is_complex():
        raise HeadstartError(f"embeddings must be real numbers, got {embeddings.dtype}", fix="pass floats")


def is_unit_float32(embeddings: torch.Tensor, tol: float = 1e-4) -> bool:
    """True for contiguous float32 rows that all have length 1 (one chunked pass, no copy)."""
    if embeddings.dtype != torch.float32 or not embeddings.is_contiguous():
        return False
    for rows in row_chunks(len(embeddings), embeddings.shape[1]):
        if not ((embeddings[rows].norm(dim=1) - 1).abs() <= tol).all():  # NaN fails too
            return False
    return True


def normalize(embeddings: torch.Tensor) -> torch.Tensor:
    """float32 unit-length rows (a zero row stays zero), computed chunk by chunk.

    Rows that are already unit-length float32 are returned as they are, not copied (halving
    the memory for 1M rows); no strategy writes to them. Raises HeadstartError naming the
    rows that hold NaN or inf.
    """
    if is_unit_float32(embeddings):
        return embeddings
    x = torch.empty(embeddings.shape, dtype=torch.float32)
    for rows in row_chunks(len(embeddings), embeddings.shape[1]):
        x[rows] = F.normalize(embeddings[rows].float(), dim=1)
        bad = ~torch.isfinite(x[rows]).all(dim=1)
        if bad.any():
            first = (bad.nonzero().flatten()[:5] + rows.start).tolist()
            raise HeadstartError(
                f"embeddings contain NaN or inf (first rows: {first})",
                fix="re-embed those images or drop the rows before selecting",
            )
    return x


def available_mask(n_rows: int, exclude: torch.Tensor | None) -> torch.Tensor:
    """bool `(N,)`: True where a row may be picked (not in `exclude`)."""
    mask = torch.ones(n_rows, dtype=torch.bool)
    if exclude is None:
        return mask
    exclude = torch.as_tensor(exclude).flatten()
    if exclude.numel() and (exclude.is_floating_point() or exclude.min() < 0 or exclude.max() >= n_rows):
        raise HeadstartError(
            f"exclude must hold row indices in [0, {n_rows}), got values in "
            f"[{exclude.min().item()}, {exclude.max().item()}]",
            fix="pass the integer indices of the already-labeled rows",
        )
    mask[exclude.long()] = False
    return mask


def check_n(n: int, available: torch.Tensor) -> None:
    n_free = int(available.sum())
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise HeadstartError(f"n must be a non-negative integer, got {n!r}", fix="pass how many to pick")
    if n > n_free:
        excluded = len(available) - n_free
        raise HeadstartError(
            f"cannot select {n} rows: only {n_free} of {len(available)} are available ({excluded} excluded)",
            fix=f"ask for at most {n_free}, or exclude fewer rows",
        )


def check_inputs(embeddings: torch.Tensor, n: int, exclude: torch.Tensor | None) -> torch.Tensor:
    """Checked inputs of every strategy; returns the available mask `(N,)`."""
    check_embeddings(embeddings)
    available = available_mask(len(embeddings), exclude)
    check_n(n, available)
    return available


def prepare(
    embeddings: torch.Tensor, n: int, exclude: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked inputs: unit-norm float32 embeddings `(N, D)` and the available mask `(N,)`."""
    available = check_inputs(embeddings, n, exclude)
    return normalize(embeddings), available


def ranks01(scores: torch.Tensor) -> torch.Tensor:
    """Each score's rank scaled to [0, 1] (1 = highest); ties are broken toward the lower index."""
    order = torch.sort(scores, descending=True, stable=True).indices
    ranks = torch.empty(len(scores), dtype=torch.float32)
    ranks[order] = torch.arange(len(scores) - 1, -1, -1, dtype=torch.float32)
    return ranks / max(1, len(scores) - 1)


def empty_selection() -> Selection:
    return Selection(torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.float32))
