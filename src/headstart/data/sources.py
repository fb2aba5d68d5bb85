"""`open_data`: the one entry point every command uses for `--data`.

A spec is a named set (`fashion-mnist`, `mnist`, optionally `fashion-mnist:test`), a folder of
IDX `.gz` files or one IDX images file, or a folder of images (see `headstart.data.folder`).
The named text corpora (`fortunes`, ...) are known here too, so an image command given one
says so; `headstart.data.text.open_text` opens them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Literal

import torch

from headstart.data.folder import open_folder
from headstart.data.idx import FILES, NAMED, open_idx
from headstart.data.imageset import ImageSet, fit
from headstart.data.specs import parse_spec, split_folder
from headstart.data.text.fortunes import NAMED_TEXT
from headstart.errors import HeadstartError

MAX_BUDGET = 4 << 30  # bytes; the default budget is min(4 GiB, 25% of RAM)


def open_data(spec: str, *, split: str = "train", on_bad_image: Literal["skip", "fail"] = "skip",
              memory_budget: int | None = None, load_size: int | None = None,
              upscale: bool = True) -> ImageSet:
    """Open `--data` as an `ImageSet` of uint8 images.

    Args:
        spec: `fashion-mnist` / `mnist` (a `:train` / `:test` suffix overrides `split`), a folder
            holding IDX `.gz` files, one IDX images file, or a folder of images (class
            sub-folders give labels; `train/` + `test/` (or `val/`) sub-folders give splits).
        split: "train" or "test".
        on_bad_image: "skip" drops undecodable files with one warning each; "fail" raises.
        memory_budget: bytes the decoded set may take in memory; larger sets are decoded on
            demand by the DataLoader workers. Default: min(4 GiB, 25% of RAM).
        load_size: the side images are stored at (e.g. the training size). Default: IDX sets
            keep 28; folders use the first image's shorter side, clamped to [32, 256].
        upscale: False keeps an IDX set smaller than `load_size` at its own size, for callers
            that resize each batch anyway (the training views crop and resize in one pass, so
            an upscaled copy only costs time and memory: 2 s and 200 MB for Fashion-MNIST at 64 px).

    Returns:
        An `ImageSet`: IDX sets have 1 channel; folders 1 when every probed image is gray, else 3.

    Example:
        >>> open_data("fashion-mnist:test").images.shape
        torch.Size([10000, 1, 28, 28])
    """
    _check_options(on_bad_image, memory_budget, load_size)
    if spec.partition(":")[0] in NAMED_TEXT and not os.path.exists(spec):
        raise HeadstartError(f"{spec} is a text corpus, not an image set",
                             fix="use it with a text model such as headstart/bert-mini "
                             "(in Python: headstart.data.text.open_text)")
    target, split = parse_spec(spec, split, names=list(NAMED), accepted="a folder of images, an IDX .gz file")
    budget = default_memory_budget() if memory_budget is None else memory_budget
    path = Path(target)
    if target in NAMED or _is_idx(path):
        return _store_at(open_idx(target, split), load_size, budget, upscale)
    if path.is_file():
        raise HeadstartError(f"{spec} is a single file, not a data set",
                             fix="pass the folder that holds it, an IDX .gz file, or one of: "
                             + ", ".join(NAMED))
    return open_folder(split_folder(path, split), on_bad_image=on_bad_image, memory_budget=budget,
                       load_size=load_size)


def default_memory_budget() -> int:
    """min(4 GiB, 25% of physical RAM), in bytes."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return MAX_BUDGET
    return min(MAX_BUDGET, ram // 4)


def _check_options(on_bad_image: str, memory_budget: int | None, load_size: int | None) -> None:
    if on_bad_image not in ("skip", "fail"):
        raise HeadstartError(f"on_bad_image must be 'skip' or 'fail', got {on_bad_image!r}")
    if memory_budget is not None and memory_budget < 0:
        raise HeadstartError(f"memory_budget must be >= 0 bytes, got {memory_budget}")
    if load_size is not None and load_size < 1:
        raise HeadstartError(f"load_size must be a positive number of pixels, got {load_size}")


def _is_idx(path: Path) -> bool:
    if path.is_dir():
        return any((path / images).is_file() for images, _ in FILES.values())
    return path.is_file() and (path.suffix == ".gz" or "ubyte" in path.name)


def _store_at(data: ImageSet, load_size: int | None, budget: int, upscale: bool = True) -> ImageSet:
    """Resize an in-memory set to `load_size` once when it fits `budget`, else per batch; with
    `upscale` False a set no larger than `load_size` stays as it is."""
    assert data.images is not None
    n, c, h, w = data.images.shape
    if load_size is None or (h, w) == (load_size, load_size) or not upscale and max(h, w) <= load_size:
        return data
    if n * c * load_size * load_size > budget:
        return data.with_format(size=load_size, channels=c)
    resized = [fit(chunk, load_size, c) for chunk in data.images.split(4096)]  # (n, C, S, S) in pieces
    return replace(data, images=torch.cat(resized))
