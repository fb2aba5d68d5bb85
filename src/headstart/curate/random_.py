"""`random`: a uniform sample of the available rows — the baseline every strategy must beat."""

from __future__ import annotations

import torch

from headstart.curate.base import Selection, check_inputs


def random(
    embeddings: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
) -> Selection:
    """`n` rows drawn uniformly without replacement from the rows not in `exclude`.

    Scores are the uniform random keys the rows were ranked by (lowest first). The
    embeddings' values are not read, only their number of rows.

    Example:
        >>> random(emb, 100, seed=1).indices
    """
    available = check_inputs(embeddings, n, exclude)
    keys = torch.rand(len(embeddings), generator=torch.Generator().manual_seed(seed))  # (N,)
    keys[~available] = float("inf")
    scores, indices = keys.topk(n, largest=False, sorted=True)
    return Selection(indices, scores)
