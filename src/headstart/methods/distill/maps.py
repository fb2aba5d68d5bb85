"""One backbone pass -> both the global embedding and a spatial feature map.

`Backbone.forward_features` gives maps (B, C, h, w) for CNNs and tokens (B, prefix + N, D) for
ViTs; these helpers pool them the way the model's own `forward` does (checked against it in the
tests), so distillation gets `(B, D)` and `(B, C, h, w)` from a single forward.
"""

from __future__ import annotations

import math

import torch

from headstart.models.backbone import Backbone


def num_prefix_tokens(backbone: Backbone) -> int:
    """Class/register tokens in front of a ViT's patch tokens (torchvision ViTs: one class token)."""
    module = getattr(backbone.module, "_orig_mod", backbone.module)
    return int(getattr(module, "num_prefix_tokens", 1))


def pooled(backbone: Backbone, feats: torch.Tensor) -> torch.Tensor:
    """The global embedding (B, D) that `backbone(x)` returns, from `feats = backbone.forward_features(x)`."""
    module = getattr(backbone.module, "_orig_mod", backbone.module)
    if hasattr(module, "forward_head"):  # timm and built-ins: pooling, (fc_norm, identity head)
        return module.forward_head(feats)
    if feats.ndim == 4:  # built-in and torchvision CNNs: global average pool
        return feats.mean((2, 3))
    return feats[:, 0]  # torchvision ViT: class token


def spatial_map(backbone: Backbone, feats: torch.Tensor) -> torch.Tensor | None:
    """Features as a map (B, C, h, w): CNN maps as they are, ViT patch tokens on their square grid;
    None when the tokens do not form a square grid."""
    if feats.ndim == 4:
        return feats
    if feats.ndim != 3 or not backbone.meta.is_vit:
        return None
    tokens = feats[:, num_prefix_tokens(backbone):]  # (B, N, D)
    side = math.isqrt(tokens.shape[1])
    if side * side != tokens.shape[1]:
        return None
    return tokens.transpose(1, 2).reshape(len(tokens), -1, side, side)
