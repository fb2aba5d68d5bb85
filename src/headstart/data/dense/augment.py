"""Box- and mask-aware augmentation of a whole batch on its device: random resized crop (which
scales), horizontal flip, one `grid_sample` for the images (bilinear) and one for the label maps
(nearest, so classes never blend).

The crop is `views.ops.crop_theta`'s, so detection sees the same geometry as classification.
A box follows the crop and flip exactly; it is clipped to the crop and dropped when less than
`min_visible` of it is left, or when it is under a pixel wide or high.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from headstart.data.views.ops import crop_theta


def crop_boxes(theta: torch.Tensor, hw: tuple[int, int], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample (left, top, crop width, crop height) in source pixels `(B, 4)` and flipped `(B,)`."""
    h, w = hw
    cw, ch = theta[:, 0, 0].abs() * w, theta[:, 1, 1] * h
    left, top = ((theta[:, 0, 2] + 1) * w - cw) / 2, ((theta[:, 1, 2] + 1) * h - ch) / 2
    return torch.stack([left, top, cw, ch], 1), theta[:, 0, 0] < 0


def move_boxes(boxes: torch.Tensor, crop: torch.Tensor, flipped: bool, size: int,
               min_visible: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes `(n, 4)` xyxy of the source -> of the `size` x `size` view, and which were kept `(n,)`."""
    left, top, cw, ch = crop.tolist()
    sx, sy = size / cw, size / ch
    moved = (boxes - boxes.new_tensor([left, top, left, top])) * boxes.new_tensor([sx, sy, sx, sy])
    if flipped:
        moved = torch.stack([size - moved[:, 2], moved[:, 1], size - moved[:, 0], moved[:, 3]], 1)
    clipped = moved.clamp(0, size)
    area = (moved[:, 2:] - moved[:, :2]).prod(1)
    wh = clipped[:, 2:] - clipped[:, :2]
    keep = (wh.prod(1) >= min_visible * area) & (wh >= 1).all(1)
    return clipped[keep], keep


def dense_views(images: torch.Tensor, boxes: list[torch.Tensor], labels: list[torch.Tensor],
                masks: torch.Tensor | None, *, size: int, gen: torch.Generator,
                scale: tuple[float, float] = (0.25, 1.0), flip_p: float = 0.5, min_visible: float = 0.5,
                ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], torch.Tensor | None]:
    """uint8 `(B, C, H, W)` + boxes/labels/maps -> float views in [0, 1] `(B, C, size, size)` and
    the boxes, labels and maps that go with them (maps: uint8 `(B, size, size)`).

    Example:
        >>> x, b, l, m = dense_views(batch.images, batch.boxes, batch.labels, None, size=96, gen=g)
    """
    b, c, h, w = images.shape
    theta = crop_theta(b, (h, w), scale=scale, flip_p=flip_p, gen=gen, device=images.device)
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)
    views = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border",
                          align_corners=False).div_(255).clamp_(0, 1)
    out_masks = None
    if masks is not None:
        out_masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", padding_mode="border",
                                  align_corners=False)[:, 0].to(torch.uint8)
    crops, flipped = crop_boxes(theta.cpu(), (h, w), size)
    out_boxes, out_labels = [], []
    for i in range(b):
        moved, keep = move_boxes(boxes[i].float(), crops[i].to(boxes[i].device), bool(flipped[i]), size,
                                 min_visible)
        out_boxes.append(moved)
        out_labels.append(labels[i][keep])
    return views, out_boxes, out_labels, out_masks
