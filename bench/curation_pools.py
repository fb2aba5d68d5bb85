"""Pools for bench/curation.py: Fashion-MNIST embedded once, small-augmentation copies, a long tail.

`embed_all` embeds the 60k training images, the 10k test images and one augmented copy of every
training image (`augment`: a shift of up to 2 pixels, contrast x0.85-1.15, Gaussian noise of 4
grey levels; each copy is seeded by its row, so the cache is reproducible) with a run's frozen
backbone. `long_tail` resamples the training split so class sizes fall geometrically 50x from the
largest class to the smallest and adds near-duplicates (augmented copies of pool rows). `planted`
is the dedup pool: training rows plus augmented copies of some of them, with the truth pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SHIFT = 2          # pixels
CONTRAST = 0.15    # +- share
NOISE = 4.0        # grey levels (std)


def augment(images: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 `(M, C, H, W)` -> the same images shifted, rescaled in contrast and noised, uint8."""
    g = torch.Generator().manual_seed(seed)
    m, _, h, w = images.shape
    padded = torch.nn.functional.pad(images.float(), (SHIFT, SHIFT, SHIFT, SHIFT))
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, m), generator=g)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(m)])
    gain = 1 + CONTRAST * (2 * torch.rand(m, 1, 1, 1, generator=g) - 1)
    out = out * gain + NOISE * torch.randn(out.shape, generator=g)
    return out.round().clamp(0, 255).to(torch.uint8)


def embed_all(run: Path) -> dict[str, torch.Tensor]:
    """{train, train_y, test, test_y, copies}: float32 features of the run's backbone (copies[i] is
    the augmented copy of train row i)."""
    from headstart.data.idx import open_idx
    from headstart.eval.features import extract_features
    from headstart.models.factory import load_run_backbone
    from headstart.run import Run

    size = Run.read(run).image_size
    backbone = load_run_backbone(run, image_size=size).eval()
    out = {}
    for split in ("train", "test"):
        data = open_idx("fashion-mnist", split)
        feats, labels = extract_features(backbone, data.with_format(size=size, channels=1), progress=False)
        out[split], out[f"{split}_y"] = feats.float(), labels.long()
        if split == "train":
            copies = torch.cat([augment(data.images[i:i + 1000], seed=i) for i in range(0, len(data), 1000)])
            aug = data.subset(np.arange(len(data)))
            aug.images = copies
            out["copies"] = extract_features(backbone, aug.with_format(size=size, channels=1), progress=False)[0].float()
    return out


@dataclass
class Pool:
    """feats `(P, D)`, labels `(P,)`; source: for a copy its original's pool row, else -1."""

    feats: torch.Tensor
    labels: torch.Tensor
    source: torch.Tensor


def class_sizes(largest: int, fall: float, classes: int) -> list[int]:
    """Geometric sizes from `largest` down to `largest / fall` over `classes` classes."""
    return [round(largest * fall ** (-r / (classes - 1))) for r in range(classes)]


def long_tail(f: dict[str, torch.Tensor], *, fall: float = 50.0, duplicates: float = 0.1, seed: int = 0) -> Pool:
    """The training split resampled to a long tail (class ranks shuffled by `seed`), plus
    `duplicates` x pool size augmented copies of uniformly drawn pool rows (so they follow the tail)."""
    g = torch.Generator().manual_seed(seed)
    y = f["train_y"]
    order = torch.randperm(10, generator=g).tolist()  # which class is largest, next, ...
    rows = []
    for c, n in zip(order, class_sizes(int((y == 0).sum()), fall, 10), strict=True):
        members = (y == c).nonzero().flatten()
        rows.append(members[torch.randperm(len(members), generator=g)[:n]])
    rows = torch.cat(rows)
    dup = torch.randperm(len(rows), generator=g)[: round(duplicates * len(rows))]
    feats = torch.cat([f["train"][rows], f["copies"][rows[dup]]])
    source = torch.cat([torch.full((len(rows),), -1), dup])
    return Pool(feats, torch.cat([y[rows], y[rows[dup]]]), source)


def planted(f: dict[str, torch.Tensor], *, size: int = 60_000, copies: int = 1000, seed: int = 0) -> Pool:
    """`size` rows: `size - copies` training rows and an augmented copy of `copies` of them."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.randperm(len(f["train"]), generator=g)[: size - copies]
    dup = torch.randperm(len(rows), generator=g)[:copies]
    feats = torch.cat([f["train"][rows], f["copies"][rows[dup]]])
    source = torch.cat([torch.full((len(rows),), -1), dup])
    return Pool(feats, torch.cat([f["train_y"][rows], f["train_y"][rows[dup]]]), source)
