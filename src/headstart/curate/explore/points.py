"""`Explorer`: everything the page shows about one set of embeddings, and the questions it asks.

Rows are images (a path each) or texts (the embedding index holds text instead of a path).
Geometry is cosine on L2-normalised rows, as in every curate strategy; a neighbour's distance
is the L2 distance on the unit sphere, sqrt(2 - 2 cos), 0 for the row itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from headstart.curate.base import normalize
from headstart.curate.dedup import near_duplicates
from headstart.curate.diverse import sphere_distance
from headstart.curate.explore.projection import project
from headstart.curate.explore.thumbs import Sprites
from headstart.curate.kmeans import kmeans
from headstart.curate.registry import STRATEGIES, choose, needs_probs, parse_strategy
from headstart.curate.typical import knn_density
from headstart.errors import HeadstartError

MAX_NEIGHBOURS = 100
MAX_GROUPS = 200  # duplicate groups sent to the page, largest first
TYPICAL_K, TYPICAL_REFERENCE = 20, 2000  # kNN density against a random reference sample
DIGITS = 4
SELF = 2.0  # a row's similarity to itself in neighbour searches: above any cosine; its distance is 0  # decimals of the coordinates and scores sent to the page


@dataclass
class Explorer:
    """The embeddings of N rows and the columns the map is coloured by.

    Attributes:
        x: `(N, D)` unit-norm float32 rows.
        xy: `(N, 2)` map coordinates.
        names: a path (or name) per row.
        labels: a label per row ("" where unknown).
        clusters: int `(N,)` k-means cluster of each row.
        typicality: `(N,)` mean cosine to the nearest neighbours (high: a dense region).
        texts: the text of each row for text runs, else None.
        predictions: predicted class per row, when a fine-tuned run was given.
        probs: `(N, K)` class probabilities behind `predictions`.
        sprites: the thumbnail sheets (image runs).
        image: row -> PNG bytes of the full image (image runs).
    """

    x: torch.Tensor
    xy: np.ndarray
    names: list[str]
    labels: list[str]
    clusters: np.ndarray
    typicality: np.ndarray
    texts: list[str] | None = None
    predictions: list[str] | None = None
    probs: torch.Tensor | None = None
    sprites: Sprites | None = None
    image: Callable[[int], bytes] | None = None
    _duplicates: dict[float, list] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.names)

    # --- the page's data ------------------------------------------------------------------
    @property
    def uncertainty(self) -> np.ndarray | None:
        """`(N,)` 1 - (top-1 minus top-2 probability): 1 where the classifier cannot decide."""
        if self.probs is None:
            return None
        top = self.probs.topk(min(2, self.probs.shape[1]), dim=1).values
        margin = top[:, 0] - (top[:, 1] if top.shape[1] > 1 else 0)
        return (1 - margin).numpy()

    def columns(self) -> dict[str, dict]:
        """What the map can be coloured by: categories (names + a code per row) or numbers."""
        cols = {"label": categories(self.labels), "cluster": categories([f"cluster {c}" for c in self.clusters]),
                "typicality": numbers(self.typicality)}
        if self.predictions is not None:
            cols["prediction"] = categories(self.predictions)
            if any(self.labels):
                cols["correct"] = categories(["unlabeled" if not y else "correct" if y == p else "wrong"
                                              for y, p in zip(self.labels, self.predictions)])
            cols["uncertainty"] = numbers(self.uncertainty)
        return cols

    def payload(self) -> dict:
        """The JSON the page draws: coordinates, colour columns, names (common prefix apart)."""
        prefix = os.path.commonprefix(self.names) if len(self.names) > 1 else ""
        return {"n": len(self), "mode": "text" if self.texts is not None else "image",
                "x": _rounded(self.xy[:, 0]), "y": _rounded(self.xy[:, 1]),
                "columns": self.columns(), "prefix": prefix, "names": [n[len(prefix):] for n in self.names],
                "texts": self.texts, "sprites": self.sprites.layout() if self.sprites else None,
                "strategies": [s for s in STRATEGIES.names() if self.probs is not None or not needs_probs(s, {})]}

    def point(self, i: int) -> dict:
        """Metadata of row `i`."""
        self._check_row(i)
        out = {"row": i, "name": self.names[i], "label": self.labels[i], "cluster": int(self.clusters[i]),
               "typicality": round(float(self.typicality[i]), DIGITS)}
        if self.texts is not None:
            out["text"] = self.texts[i]
        if self.predictions is not None:
            out["prediction"] = self.predictions[i]
            out["confidence"] = round(float(self.probs[i].max()), DIGITS)
        return out

    # --- questions ------------------------------------------------------------------------
    def neighbours(self, i: int, k: int = 8) -> tuple[list[int], list[float]]:
        """The `k` rows nearest row `i` (itself first, at distance 0) and their distances."""
        self._check_row(i)
        if not 1 <= k <= MAX_NEIGHBOURS:
            raise HeadstartError(f"k={k} neighbours", fix=f"ask for 1 to {MAX_NEIGHBOURS}")
        sim = self.x @ self.x[i]  # (N,)
        sim[i] = SELF  # a row is its own nearest neighbour, before any exact copy of it
        top = sim.topk(min(k, len(self)))
        return top.indices.tolist(), sphere_distance(top.values).tolist()

    def select(self, n: int, strategy: str, *, among: list[int] | None = None, seed: int = 0) -> list[int]:
        """`n` rows to label by a curate strategy (or a blend "a+b"), among the rows `among` (all when None).

        The strategy sees only the `among` rows, so a lasso region is covered on its own terms.
        """
        name, options = parse_strategy(strategy, None)  # an unknown name lists the valid ones
        if needs_probs(name, options) and self.probs is None:
            raise HeadstartError(f"{strategy} needs class probabilities",
                                 fix="start explore with --predictions <a fine-tuned run>")
        rows = torch.arange(len(self)) if among is None else torch.as_tensor(sorted(set(among)), dtype=torch.long)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise HeadstartError(f"rows outside 0..{len(self) - 1}", fix="select among the map's points")
        probs = None if self.probs is None else self.probs[rows]
        return rows[choose(self.x[rows], n, strategy, None, seed=seed, probs=probs).indices].tolist()

    def duplicates(self, threshold: float) -> dict:
        """Groups of near-duplicates at `threshold` (cosine), the largest `MAX_GROUPS` of them."""
        t = round(float(threshold), 3)
        if t not in self._duplicates:
            self._duplicates[t] = near_duplicates(self.x, threshold=t)
        groups = sorted(self._duplicates[t], key=lambda g: -len(g.members))
        return {"threshold": t, "groups_total": len(groups), "rows_total": sum(len(g.members) for g in groups),
                "groups": [{"members": g.members, "similarity": [round(s, DIGITS) for s in g.similarity]}
                           for g in groups[:MAX_GROUPS]]}

    def all_neighbours(self, k: int = 8, chunk: int = 1024) -> dict:
        """Every row's `k` nearest rows (itself first), for a page without a server."""
        ids, dist = [], []
        for start in range(0, len(self), chunk):
            sim = self.x[start:start + chunk] @ self.x.T  # (c, N)
            sim[torch.arange(len(sim)), torch.arange(start, start + len(sim))] = SELF
            top = sim.topk(min(k, len(self)), dim=1)
            ids += top.indices.tolist()
            dist += _rounded(sphere_distance(top.values).numpy())
        return {"ids": ids, "distances": dist}

    def _check_row(self, i: int) -> None:
        if not 0 <= i < len(self):
            raise HeadstartError(f"no point {i} (there are {len(self)})", fix=f"use a row in 0..{len(self) - 1}")


def categories(values: list[str]) -> dict:
    names = sorted(set(values), key=_natural)
    code = {v: c for c, v in enumerate(names)}
    return {"kind": "category", "names": [v or "unknown" for v in names], "codes": [code[v] for v in values]}


def numbers(values: np.ndarray) -> dict:
    return {"kind": "number", "values": _rounded(values)}


def _rounded(values: np.ndarray) -> list[float]:
    """DIGITS decimals, through float64 so JSON holds 0.4242, not float32's 0.42419999837875366."""
    return np.round(np.asarray(values, dtype=np.float64), DIGITS).tolist()


def _natural(s: str) -> tuple:
    """'cluster 10' after 'cluster 9'."""
    head, _, tail = s.rpartition(" ")
    return (head, int(tail), "") if tail.isdigit() else (s, -1, s)


def layout(x: torch.Tensor, *, clusters: int = 10, projection: str = "pca", seed: int = 0) -> dict[str, np.ndarray]:
    """The costly columns of unit-norm rows `x (N, D)`, worth caching: the map "xy" `(N, 2)`, the
    k-means "clusters" `(N,)` and the "typicality" `(N,)` (kNN density against a random sample)."""
    ref = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:TYPICAL_REFERENCE].sort().values
    return {"xy": project(x, projection, seed=seed), "clusters": kmeans(x, min(clusters, len(x)), seed=seed).labels.numpy(),
            "typicality": knn_density(x, torch.arange(len(x)), ref, TYPICAL_K).numpy()}


def build_explorer(*, embeddings: torch.Tensor, names: list[str], labels: list[str] | None = None,
                   texts: list[str] | None = None, probs: torch.Tensor | None = None,
                   classes: list[str] | None = None, clusters: int = 10, projection: str = "pca",
                   columns: dict[str, np.ndarray] | None = None, seed: int = 0) -> Explorer:
    """An `Explorer` over `(N, D)` embeddings.

    Args:
        names: a path (or any name) per row; labels: per row, "" where unknown.
        texts: the rows' texts for a text run (no thumbnails).
        probs, classes: a classifier's `(N, K)` probabilities and its class names.
        clusters, projection: what `layout` computes, unless `columns` holds its cached result.

    Example:
        >>> ex = build_explorer(embeddings=emb, names=paths, labels=labels)
    """
    if len(names) != len(embeddings) or (labels is not None and len(labels) != len(names)):
        raise HeadstartError(f"{len(embeddings)} embeddings but {len(names)} names and "
                             f"{len(labels or names)} labels", fix="re-embed the data (the index is stale)")
    x = normalize(embeddings)
    columns = columns or layout(x, clusters=clusters, projection=projection, seed=seed)
    predictions = None
    if probs is not None:
        predictions = [classes[c] if classes else str(c) for c in probs.argmax(dim=1).tolist()]
    return Explorer(x=x, xy=columns["xy"], names=list(names),
                    labels=list(labels) if labels is not None else [""] * len(names),
                    clusters=columns["clusters"], typicality=columns["typicality"],
                    texts=texts, predictions=predictions, probs=probs)
