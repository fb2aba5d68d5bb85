"""Semantic masks: a folder with `images/` and `masks/` (same file stems; the mask a PNG label
map: pixel value = class id, 0 = background, 255 = ignore), optionally split as
`<root>/<split>/{images,masks}/` or `<root>/{images,masks}/<split>/`.

Class names: `classes.txt` in the root (line i names value i, from 1; background is implicit),
else "class 1" ... up to the largest value found. An image without a mask is background; a mask
whose size differs from its image's is skipped with its image; values above the named classes
become 255 (ignored), with a `LabelWarning` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from headstart.data.decode import image_size
from headstart.data.dense.dataset import (
    IGNORE,
    DenseSet,
    auto_side,
    decode_all,
    list_images,
    probe_channels,
    resize_map,
    warn_label,
)
from headstart.errors import HeadstartError


def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
    """(images folder, masks folder) of `split`; the unsplit layout serves every split."""
    for images, masks in ((root / split / "images", root / split / "masks"),
                          (root / "images" / split, root / "masks" / split)):
        if images.is_dir():
            return images, masks
    if split != "train" and ((root / "train").is_dir() or (root / "images" / "train").is_dir()):
        raise HeadstartError(f"{root} has no {split} split", fix=f"add {root}/{split}/images and masks")
    return root / "images", root / "masks"


def is_mask_folder(root: Path) -> bool:
    return any((d / "masks").is_dir() for d in (root, root / "train")) or (root / "masks").is_dir()


def read_masks(root: Path, split: str, *, size: int | None = None, on_bad_image: str = "skip") -> DenseSet:
    """The images and label maps of `split` ("train", "val" or "test") under `root`."""
    images_dir, masks_dir = split_dirs(root, split)
    paths = list_images(images_dir)
    if not paths:
        raise HeadstartError(f"{images_dir}: no images", fix="put images in images/ and PNG label maps in masks/")
    size = size or auto_side(*(image_size(paths[0]) or (640, 640))[::-1])
    kept, pixels, sizes = decode_all(paths, size, probe_channels(paths), on_bad_image)
    named = class_file(root)
    mask_files = [masks_dir / Path(paths[i]).relative_to(images_dir).with_suffix(".png") for i in kept]
    raw = [read_mask(f, hw) for f, hw in zip(mask_files, sizes, strict=True)]
    keep = [j for j, m in enumerate(raw) if m is not None]
    top = max((int(m[m != IGNORE].max(initial=0)) for m in raw if m is not None), default=0)
    names = named if named is not None else [f"class {v}" for v in range(1, top + 1)]
    maps = []
    for j in keep:
        m = raw[j]
        unknown = (m > len(names)) & (m != IGNORE)
        if unknown.any():
            warn_label(str(mask_files[j]), f"{int(unknown.sum())} pixels of unknown class "
                       f"values {sorted(set(np.unique(m[unknown]).tolist()))[:5]} set to ignore (255)")
            m = np.where(unknown, IGNORE, m).astype(np.uint8)
        maps.append(resize_map(torch.from_numpy(m), size))
    n = len(keep)
    return DenseSet([paths[kept[j]] for j in keep], pixels[torch.as_tensor(keep, dtype=torch.long)],
                    ["background", *names],
                    [torch.zeros(0, 4)] * n, [torch.zeros(0, dtype=torch.long)] * n,
                    [sizes[j] for j in keep],
                    torch.stack(maps) if maps else torch.zeros(0, size, size, dtype=torch.uint8),
                    source=f"{root}:{split}")


def class_file(root: Path) -> list[str] | None:
    path = root / "classes.txt"
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_mask(path: Path, hw: tuple[int, int]) -> np.ndarray | None:
    """uint8 `(h, w)` label map; zeros (background) when there is none; None when it cannot be used."""
    if not path.is_file():
        return np.zeros(hw, dtype=np.uint8)
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                warn_label(str(path), f"a label map must be a single-channel PNG, not mode {im.mode}")
                return None
            m = np.asarray(im)
    except OSError as err:
        warn_label(str(path), f"unreadable mask ({err.__class__.__name__})")
        return None
    if m.shape != hw:
        warn_label(str(path), f"mask is {m.shape[1]}x{m.shape[0]}, its image {hw[1]}x{hw[0]}")
        return None
    return np.where(m > IGNORE, IGNORE, m).astype(np.uint8)
