"""A timm VisionTransformer run on the visible patches only, and patch <-> image reshaping.

MAE's encoder sees only the unmasked 25% of the patches (He et al. 2022, arXiv:2111.06377, §3):
positions are added to every patch first, then the hidden ones are dropped, so a block costs
a quarter of a full forward. The plain ViT is untouched and still runs on whole images.
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone

VIT_MODELS = "headstart/vit-tiny, or a timm ViT (timm/vit_small_patch16_224, timm/deit_tiny_patch16_224)"


def check_vit(backbone: Backbone, method: str) -> nn.Module:
    """The plain timm ViT inside `backbone`, or a HeadstartError naming the models that work."""
    vit = getattr(backbone.module, "_orig_mod", backbone.module)
    parts = ("patch_embed", "blocks", "norm", "_pos_embed")
    if not backbone.meta.is_vit or not all(hasattr(vit, p) for p in parts):
        raise HeadstartError(f"--method {method} needs a ViT backbone, got {backbone.meta.name}",
                             fix=f"pass --model {VIT_MODELS}")
    return vit


def grid_size(vit: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """Patches along (height, width) for input `x` (B, C, H, W)."""
    p = vit.patch_embed.patch_size
    h, w = x.shape[-2:]
    if h % p[0] or w % p[1]:
        raise HeadstartError(f"image side {h}x{w} px is not a multiple of the patch size {p[0]}",
                             fix=f"pass --image-size {max(p[0], h // p[0] * p[0])}")
    return h // p[0], w // p[1]


def patch_tokens(vit: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Embedded patches plus prefix tokens (cls, registers), positions added: (B, prefix + N, D).

    timm's own `_pos_embed` resamples the learned positions to the input's grid when the model was
    built with `dynamic_img_size=True` (then `patch_embed` returns (B, h, w, D))."""
    return vit._pos_embed(vit.patch_embed(x))


def encode_visible(vit: nn.Module, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Encoder output for the visible patches: x (B, C, H, W), keep (B, K) patch indices
    -> (B, prefix + K, D), prefix tokens first, visible patches in `keep` order."""
    tokens = patch_tokens(vit, x)  # (B, P + N, D)
    prefix = vit.num_prefix_tokens  # `_pos_embed` always puts the prefix tokens first
    head, patches = tokens[:, :prefix], tokens[:, prefix:]
    visible = patches.gather(1, keep[..., None].expand(-1, -1, patches.shape[-1]))  # (B, K, D)
    h = vit.norm_pre(vit.patch_drop(torch.cat([head, visible], dim=1)))
    if getattr(vit, "grad_checkpointing", False) and torch.is_grad_enabled():
        from timm.models._manipulate import checkpoint_seq

        h = checkpoint_seq(vit.blocks, h)
    else:
        h = vit.blocks(h)
    return vit.norm(h)


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, h*p, w*p) -> (B, h*w, p*p*C), patches in row-major order, pixels (py, px, c) as MAE."""
    b, c, hh, ww = x.shape
    h, w = hh // p, ww // p
    x = x.reshape(b, c, h, p, w, p).permute(0, 2, 4, 3, 5, 1)  # (B, h, w, p, p, C)
    return x.reshape(b, h * w, p * p * c)


def unpatchify(x: torch.Tensor, p: int, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of `patchify`: (B, h*w, p*p*C) -> (B, C, h*p, w*p)."""
    (b, _, d), (h, w) = x.shape, grid
    c = d // (p * p)
    x = x.reshape(b, h, w, p, p, c).permute(0, 5, 1, 3, 2, 4)  # (B, C, h, p, w, p)
    return x.reshape(b, c, h * p, w * p)
