"""A run's embeddings of a data set, cached in the run folder: `select`, `dedup` and `explore` on the same
images embed them once (a million images take minutes on a CPU).

The cache is `headstart embed`'s output (`embeddings.npy` + `index.csv`) in
`<run>/cache/<data name>-<hash of the paths>/`; it is used while it lists the same paths in the same
order and is newer than the run's weights, and made again otherwise.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from headstart.commands._path_table import read_csv
from headstart.data.imageset import ImageSet
from headstart.data.sources import open_data
from headstart.errors import HeadstartError
from headstart.eval.features import extract_features
from headstart.export.embeddings import write_embeddings
from headstart.models.factory import load_run_backbone
from headstart.run import Run


def embed(run: Run, data: ImageSet, batch_size: int, progress: bool) -> torch.Tensor:
    """`(N, D)` float32 backbone features of every image of `data`."""
    size = run.image_size
    backbone = load_run_backbone(run, image_size=size).eval()
    feats, _ = extract_features(backbone, data.with_format(size=size, channels=data.channels),
                                batch_size=batch_size, progress=progress)
    return feats.float()


def paths_key(data: ImageSet) -> str:
    """12 hex digits naming `data`'s paths in their order."""
    return hashlib.sha1("\n".join(data.paths).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def cache_folder(run: Run, spec: str, data: ImageSet) -> Path:
    """`<run>/cache/<data name>-<hash of its paths>`: where this run's files about `data` live."""
    return run.path / "cache" / f"{_slug(spec)}-{paths_key(data)}"


def embeddings_for(run: Run, spec: str, *, on_bad_image: str, batch_size: int,
                   progress: bool) -> tuple[torch.Tensor, ImageSet]:
    """`(N, D)` embeddings of the images `spec` names, and those images. When the cache holds them,
    the folder is only listed, not decoded (its images are then read on demand); else it is opened as
    usual, embedded and the cache made."""
    listed = open_data(spec, on_bad_image=on_bad_image, load_size=run.image_size, memory_budget=0)
    hit = _cached(run, cache_folder(run, spec, listed), listed)
    if hit is not None:
        return hit, listed
    data = open_data(spec, on_bad_image=on_bad_image, load_size=run.image_size)
    return _embed_and_cache(run, data, cache_folder(run, spec, data), batch_size, progress), data


def _cached(run: Run, cache: Path, data: ImageSet) -> torch.Tensor | None:
    npy, index = cache / "embeddings.npy", cache / "index.csv"
    weights = run.backbone_file if run.backbone_file.is_file() else run.model_file
    fresh = npy.is_file() and index.is_file() and (not weights.is_file() or npy.stat().st_mtime >= weights.stat().st_mtime)
    if fresh and [r["path"] for r in read_csv(index, ("path",))] == list(data.paths):
        return torch.from_numpy(np.load(npy))
    return None


def cached_embeddings(run: Run, data: ImageSet, cache: Path, batch_size: int, progress: bool) -> torch.Tensor:
    """`(N, D)` embeddings of `data`: `headstart embed`'s files in `cache`, made when missing or stale."""
    hit = _cached(run, cache, data)
    return hit if hit is not None else _embed_and_cache(run, data, cache, batch_size, progress)


def _embed_and_cache(run: Run, data: ImageSet, cache: Path, batch_size: int, progress: bool) -> torch.Tensor:
    feats = embed(run, data, batch_size, progress)
    try:
        write_embeddings(feats.numpy(), data, cache)
    except HeadstartError as err:  # a read-only run folder or a full disk: the command goes on uncached
        warnings.warn(f"embeddings not cached in {cache}: {err}", stacklevel=2)
    return feats


def share_with_cache(run: Run, spec: str, data: ImageSet, out: Path) -> None:
    """Hard-link `headstart embed`'s files in `out` into the run's cache for `data`, so `select`, `dedup`
    and `explore` on the same images use them (no copy; nothing when `out` is on another file system)."""
    cache = cache_folder(run, spec, data)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for name in ("index.csv", "embeddings.npy"):  # the .npy last: with it the cache entry is whole
            tmp = cache / f".{name}.link"
            tmp.unlink(missing_ok=True)
            os.link(out / name, tmp)
            os.replace(tmp, cache / name)
    except OSError:
        return  # another file system or a read-only run: those commands embed again


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(spec.rstrip("/")).name or spec)[:40] or "data"
