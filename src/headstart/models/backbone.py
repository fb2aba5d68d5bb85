"""One `Backbone` interface over every model family (torchvision, timm, built-in nets).

A backbone takes float images in [0, 1], `(B, C, H, W)` with C = 1 or 3, and returns features
`(B, D)`. It owns its input policy (channel expansion, mean/std normalization) so callers never
need to know where the model came from, and it keeps the plain underlying `nn.Module` (`module`)
whose state dict is exactly what torchvision/timm load after export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class BackboneMeta:
    """Facts about a backbone, as data (timm's `pretrained_cfg` habit)."""

    name: str                         # "<package>/<name>"
    family: str                       # "torchvision" | "timm" | "headstart" | "hf" | "ultralytics"
    feature_dim: int
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    in_chans: int = 3
    default_size: int = 224
    patch_size: int | None = None     # ViTs only
    head_name: str | None = None      # attribute of `module` that held the classifier
    extra: dict = field(default_factory=dict)

    @property
    def is_vit(self) -> bool:
        return self.patch_size is not None


class Backbone(nn.Module):
    """Features `(B, D)` from float images in [0, 1]; `module` is the plain library model."""

    def __init__(self, module: nn.Module, meta: BackboneMeta,
                 groups: Callable[[nn.Module], list[list[nn.Module | nn.Parameter]]]) -> None:
        super().__init__()
        self.module = module
        self.meta = meta
        self._groups = groups
        self.register_buffer("mean", torch.tensor(meta.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(meta.std).view(1, -1, 1, 1), persistent=False)

    @property
    def feature_dim(self) -> int:
        return self.meta.feature_dim

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> normalized input with the channels the model wants."""
        if x.shape[1] != self.meta.in_chans:
            x = x.expand(-1, self.meta.in_chans, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.prepare(x))  # (B, D)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial features before pooling: `(B, C, h, w)` for CNNs, `(B, N, D)` tokens for ViTs."""
        m = self.module
        if hasattr(m, "forward_features"):  # timm and built-in nets
            return m.forward_features(self.prepare(x))
        return _torchvision_features(m, self.prepare(x))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters grouped from input to output (stem, stages..., final norm), for freezing,
        gradual unfreezing and layer-wise LR decay. Every parameter is in exactly one group;
        any the family's grouping misses join the last group."""
        groups, seen = [], set()
        for group in self._groups(self.module):
            params = [p for item in group
                      for p in (item.parameters() if isinstance(item, nn.Module) else [item])
                      if id(p) not in seen and not seen.add(id(p))]
            if params:
                groups.append(params)
        rest = [p for p in self.module.parameters() if id(p) not in seen]
        if rest:
            groups[-1].extend(rest)
        return groups


def _torchvision_features(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a torchvision classifier up to (not including) global pooling."""
    if hasattr(m, "features"):  # vgg, mobilenet, efficientnet, convnext, densenet
        return m.features(x)
    if hasattr(m, "_process_input") and hasattr(m, "encoder"):  # vision transformer: (B, 1 + N, D) tokens
        x = m._process_input(x)
        return m.encoder(torch.cat([m.class_token.expand(x.shape[0], -1, -1), x], dim=1))
    # resnet family: every child before avgpool
    for name, child in m.named_children():
        if name == "avgpool":
            return x
        x = child(x)
    raise ValueError(f"cannot find the pooling layer of {type(m).__name__}")


def children_groups(m: nn.Module) -> list[list[nn.Module | nn.Parameter]]:
    """Fallback grouping: each top-level child that holds parameters is one group."""
    return [[c] for c in m.children() if any(True for _ in c.parameters())]
