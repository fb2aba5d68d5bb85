"""`reconstructions.png`: what MAE's decoder makes of masked images (He et al. 2022, Fig. 2).

Three rows, one column per image: the original, the masked input the encoder saw (hidden patches
grey), and the reconstruction with the visible patches pasted back in, as in the paper.
Written as a plain uint8 grid with PIL, no plotting library needed.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from headstart.io import atomic_write


def image_grid(rows: list[torch.Tensor], *, cell: int = 96, pad: int = 2) -> torch.Tensor:
    """Rows of float images (B, C, S, S) in [0, 1] -> one uint8 (H, W, 3) grid, cells scaled to `cell` px."""
    b = rows[0].shape[0]
    grid = torch.ones(len(rows) * (cell + pad) + pad, b * (cell + pad) + pad, 3)  # white background
    for r, imgs in enumerate(rows):
        imgs = F.interpolate(imgs.float().clamp(0, 1), size=(cell, cell), mode="nearest")
        imgs = imgs.expand(-1, 3, -1, -1) if imgs.shape[1] == 1 else imgs[:, :3]
        for c, img in enumerate(imgs):
            top, left = pad + r * (cell + pad), pad + c * (cell + pad)
            grid[top:top + cell, left:left + cell] = img.permute(1, 2, 0)
    return (grid * 255).round().to(torch.uint8)


def save_png(grid: torch.Tensor, path: Path) -> None:
    """Write a uint8 (H, W, 3) grid as a PNG, atomically."""
    from PIL import Image

    image = Image.fromarray(grid.cpu().numpy(), mode="RGB")
    atomic_write(path, lambda f: image.save(f, format="PNG"))
