"""`ImageSet`: what every data source becomes — uint8 images, integer labels, class names.

Images stay uint8 until the views turn a batch into floats on the training device. A set is
either held in memory as one `(N, C, H, W)` uint8 tensor (IDX sets, decoded folders that fit
the memory budget) or decoded on demand from `paths` by a `decode` function (huge folders).
`__getitems__` serves a whole batch at once, so a DataLoader does one tensor index per batch
instead of per-sample Python work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

UNLABELED = -1


@dataclass
class ImageSet(torch.utils.data.Dataset):
    """A labeled or unlabeled image set.

    Attributes:
        paths: one name per image (a file path, or `file#index` for IDX sets).
        labels: int64 `(N,)`, `UNLABELED` (-1) where unknown.
        classes: class names; `labels` index into them.
        images: uint8 `(N, C, H, W)` when held in memory, else None.
        decode: when `images` is None, reads path -> uint8 `(C, size, size)`.
        size: side length served by `__getitems__` (None: as stored).
        channels: 1 or 3, channels served.
    """

    paths: list[str]
    labels: np.ndarray
    classes: list[str] = field(default_factory=list)
    images: torch.Tensor | None = None
    decode: Callable[[str, int, int], torch.Tensor] | None = None
    size: int | None = None
    channels: int = 3
    source: str = ""

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def has_labels(self) -> bool:
        return len(self.labels) > 0 and bool((self.labels != UNLABELED).all())

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        images, labels = self.__getitems__([i])
        return images[0], int(labels[0])

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        if self.images is not None:
            batch = fit(self.images[idx], self.size, self.channels)
        else:
            assert self.decode is not None and self.size is not None
            batch = torch.stack([self.decode(self.paths[i], self.size, self.channels) for i in indices])
        return batch, torch.from_numpy(self.labels[idx.numpy()])

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageSet:
        idx = np.asarray(indices, dtype=np.int64)
        return replace(
            self,
            paths=[self.paths[i] for i in idx],
            labels=self.labels[idx],
            images=None if self.images is None else self.images[torch.from_numpy(idx)],
        )

    def with_format(self, *, size: int | None, channels: int) -> ImageSet:
        return replace(self, size=size, channels=channels)


def fit(images: torch.Tensor, size: int | None, channels: int) -> torch.Tensor:
    """Resize a uint8 batch to `size` (antialiased bilinear) and to `channels` (1 or 3)."""
    if size is not None and images.shape[-1] != size or size is not None and images.shape[-2] != size:
        images = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False).round_().clamp_(0, 255).to(torch.uint8)
    if images.shape[1] == channels:
        return images
    if channels == 3 and images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    # 3 -> 1: ITU-R 601 luma
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round_().to(torch.uint8)


def collate(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """`__getitems__` already returns a batch; the DataLoader must not re-stack it."""
    return batch
