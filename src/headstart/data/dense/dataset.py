"""`DenseSet`: images with boxes (detection) or label maps (segmentation), as uint8 tensors.

Every reader (YOLO, COCO JSON, image + mask folders) ends here: images resized to one side
`S` (no crop, so every box stays in the picture), boxes `(n, 4)` xyxy in pixels of the stored
`S x S` image with their class indices, or an `(S, S)` uint8 map (class index, 255 = ignore).
The original `(h, w)` of every image is kept, so predictions go back to its own pixels.
`__getitems__` serves a whole batch as a `DenseBatch`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F

from headstart.data.decode import BadImage, decode_image, is_gray, show_path

IGNORE = 255  # label-map value that no loss or metric counts


class LabelWarning(UserWarning):
    """A label (line, annotation or pixel value) that was skipped; the message names file:line."""


def warn_label(where: str, reason: str) -> None:
    warnings.warn(f"skipping {where}: {reason}", LabelWarning, stacklevel=3)


class DenseBatch(NamedTuple):
    images: torch.Tensor        # uint8 (B, C, S, S)
    boxes: list[torch.Tensor]   # B x (n, 4) float32 xyxy pixels
    labels: list[torch.Tensor]  # B x (n,) int64
    masks: torch.Tensor | None  # uint8 (B, S, S) or None


@dataclass
class DenseSet(torch.utils.data.Dataset):
    """Images at one side with their boxes or label maps.

    Attributes:
        paths: one image file per item.
        images: uint8 `(N, C, S, S)`.
        classes: class names (for segmentation index 0 is "background").
        boxes, labels: per image `(n, 4)` xyxy pixels of the stored image and `(n,)` class indices.
        masks: uint8 `(N, S, S)` label maps, or None (detection).
        sizes: the original `(h, w)` of each image.
    """

    paths: list[str]
    images: torch.Tensor
    classes: list[str]
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    sizes: list[tuple[int, int]]
    masks: torch.Tensor | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def __getitem__(self, i: int) -> DenseBatch:
        return self.__getitems__([i])

    def __getitems__(self, indices: Sequence[int]) -> DenseBatch:
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        masks = self.masks[idx] if self.masks is not None else None
        return DenseBatch(self.images[idx], [self.boxes[i] for i in indices], [self.labels[i] for i in indices],
                          masks)

    def subset(self, indices: Sequence[int]) -> DenseSet:
        idx = [int(i) for i in indices]
        t = torch.as_tensor(idx, dtype=torch.long)
        return replace(self, paths=[self.paths[i] for i in idx], images=self.images[t],
                       boxes=[self.boxes[i] for i in idx], labels=[self.labels[i] for i in idx],
                       sizes=[self.sizes[i] for i in idx], masks=None if self.masks is None else self.masks[t])


def collate_dense(batch: DenseBatch) -> DenseBatch:
    """`__getitems__` already returns a batch; the DataLoader must not re-stack it."""
    return batch


def auto_side(h: int, w: int) -> int:
    """The stored side for images of `h x w`: the longer side up to a multiple of 32, in [64, 640]."""
    return int(min(640, max(64, math.ceil(max(h, w) / 32) * 32)))


def probe_channels(paths: Sequence[str]) -> int:
    """1 when the first images are all grayscale, else 3."""
    return 1 if all(is_gray(p) for p in paths[:8]) else 3


def load_resized(path: str, size: int, channels: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """uint8 `(C, size, size)` (antialiased bilinear, no crop) and the original `(h, w)`."""
    image = decode_image(path, None, channels)
    h, w = image.shape[-2:]
    if (h, w) != (size, size):
        image = F.interpolate(image[None].float(), size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)[0].round_().clamp_(0, 255).to(torch.uint8)
    return image, (int(h), int(w))


def resize_map(label_map: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 `(H, W)` label map -> `(size, size)`, nearest neighbour (class values never blend)."""
    if tuple(label_map.shape) == (size, size):
        return label_map
    return F.interpolate(label_map[None, None].float(), size=(size, size), mode="nearest")[0, 0].to(torch.uint8)


def scale_boxes(boxes: torch.Tensor, hw: tuple[int, int], size: int) -> torch.Tensor:
    """xyxy pixels of an `h x w` image -> pixels of the stored `size x size` one."""
    h, w = hw
    return boxes * torch.tensor([size / w, size / h, size / w, size / h])


def decode_all(paths: Sequence[str], size: int, channels: int, on_bad_image: str
               ) -> tuple[list[int], torch.Tensor, list[tuple[int, int]]]:
    """(kept indices, uint8 `(N, C, S, S)`, original sizes); a bad image is skipped with a warning or raises."""
    kept, images, sizes = [], [], []
    for i, p in enumerate(paths):
        try:
            image, hw = load_resized(p, size, channels)
        except BadImage as err:
            if on_bad_image == "fail":
                raise
            warnings.warn(f"skipping {show_path(p)}: {err.reason}", LabelWarning, stacklevel=2)
            continue
        kept.append(i)
        images.append(image)
        sizes.append(hw)
    stacked = torch.stack(images) if images else torch.zeros(0, channels, size, size, dtype=torch.uint8)
    return kept, stacked, sizes


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def list_images(folder: str | os.PathLike) -> list[str]:
    """Image files under `folder` (recursive), sorted."""
    out = []
    for top, _, files in os.walk(folder):
        out += [os.path.join(top, f) for f in files if f.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(out)
