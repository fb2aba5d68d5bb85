"""The 2-D map of the embeddings: PCA by default (seconds at 100k rows), UMAP when asked.

Both run on L2-normalised rows, the geometry every curate strategy uses (cosine). The map is
scaled to [0, 1] on its longer axis so the page needs no per-run axis ranges.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from headstart.errors import HeadstartError


def pca_2d(x: torch.Tensor, *, seed: int = 0) -> np.ndarray:
    """`(N, 2)` float32 coordinates along the two leading principal axes of `x (N, D)`.

    Randomised low-rank PCA (Halko et al. 2011, `torch.pca_lowrank`): O(N D) per power step.
    """
    torch.manual_seed(seed)
    if len(x) < 3 or x.shape[1] < 2:
        out = np.zeros((len(x), 2), dtype=np.float32)
        out[:, : min(2, x.shape[1])] = x[:, :2].numpy()
        return out
    _, _, v = torch.pca_lowrank(x.float(), q=min(6, *x.shape), center=True, niter=4)
    return ((x.float() - x.float().mean(dim=0)) @ v[:, :2]).numpy().astype(np.float32)


def umap_2d(x: torch.Tensor, *, seed: int = 0) -> np.ndarray:
    """`(N, 2)` UMAP coordinates (McInnes et al. 2018) with cosine distances."""
    try:
        import umap
    except ModuleNotFoundError:
        raise HeadstartError("--projection umap needs umap-learn",
                             fix="pip install umap-learn (or use the default --projection pca)") from None
    reducer = umap.UMAP(n_components=2, metric="cosine", random_state=seed)
    return np.asarray(reducer.fit_transform(x.float().numpy()), dtype=np.float32)


def unit_box(xy: np.ndarray) -> np.ndarray:
    """Shift to 0 and scale so the longer axis spans [0, 1] (aspect kept)."""
    if len(xy) == 0:
        return xy.astype(np.float32)
    lo = xy.min(axis=0)
    span = float((xy.max(axis=0) - lo).max()) or 1.0
    return ((xy - lo) / span).astype(np.float32)


def project(x: torch.Tensor, method: Literal["pca", "umap"] = "pca", *, seed: int = 0) -> np.ndarray:
    """`(N, 2)` float32 map of unit-norm rows `x`, in [0, 1] on its longer axis.

    Example:
        >>> xy = project(normalize(emb), "pca")
    """
    if method not in ("pca", "umap"):
        raise HeadstartError(f"unknown projection {method!r}", fix="use pca or umap")
    xy = pca_2d(x, seed=seed) if method == "pca" else umap_2d(x, seed=seed)
    return unit_box(xy)
