"""Semantic segmentation on any backbone: an FPN-style decoder (Kirillov et al. 2019, "Panoptic
Feature Pyramid Networks", arXiv:1901.02446, its semantic branch, lightened).

Each pyramid map gets a 1x1 lateral conv to `channels`, all are upsampled to the finest map and
summed, one 3x3 conv + BatchNorm + ReLU fuses them, a 1x1 conv gives class logits, and bilinear
upsampling brings them to the input size. The loss (cross-entropy, 255 ignored) is the module's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from headstart.adapt.heads.features import Pyramid


class SegmentHead(nn.Module):
    """Pyramid maps -> logits `(B, K, H, W)` at the input size."""

    def __init__(self, pyramid: Pyramid, num_classes: int, *, channels: int = 64) -> None:
        super().__init__()
        self._pyramid = [pyramid]  # a list, so the backbone's parameters are not registered twice
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in pyramid.channels)
        self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.classify = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self._pyramid[0](x)
        size = maps[0].shape[-2:]
        fused = sum(F.interpolate(lat(m), size=size, mode="bilinear", align_corners=False) if m.shape[-2:] != size
                    else lat(m) for lat, m in zip(self.lateral, maps, strict=True))
        logits = self.classify(self.fuse(fused))  # (B, K, h, w)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
