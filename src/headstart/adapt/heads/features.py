"""Multi-scale feature maps from any `Backbone`, for dense heads.

A CNN's maps are the outputs of its layer groups (stem, stages: the same groups that freezing
and layer-wise LR decay use), caught by forward hooks while `forward_features` runs; of each
resolution the last map is kept, and of those the last `LEVELS` with a stride of at least
`MIN_STRIDE` (strides 8/16/32 for library nets at 224 px, 4/8 for `resnet-mini`, whose stem
keeps the full resolution). A ViT has one token grid; it becomes a simple feature pyramid
(Li et al. 2022, "Exploring Plain Vision Transformer Backbones for Object Detection",
arXiv:2203.16527): the grid upsampled 2x, as is, and max-pooled 2x; the FPN convs on top learn.
Which groups feed the head is decided once, by a probe at the training image size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from headstart.models.backbone import Backbone

MIN_STRIDE = 4  # finer maps cost a lot on a CPU for little gain on objects of 16+ pixels
LEVELS = 3


def group_modules(backbone: Backbone) -> list[nn.Module]:
    """The last module of each layer group (its output is the group's output)."""
    groups = backbone._groups(backbone.module)  # the family's grouping, as modules (layer_groups() flattens it)
    return [mods[-1] for mods in ([m for m in g if isinstance(m, nn.Module)] for g in groups) if mods]


class Pyramid:
    """`backbone` (held, not owned: its parameters stay the backbone's) -> maps `(B, C_i, h_i, w_i)`,
    finest first. `channels` and `strides` describe them."""

    def __init__(self, backbone: Backbone, image_size: int) -> None:
        self.backbone = backbone
        self.vit = backbone.meta.is_vit
        if self.vit:
            patch = backbone.meta.patch_size
            self.picked: list[int] = []
            self.strides = [max(1, patch // 2), patch, patch * 2]
            self.channels = [backbone.feature_dim] * 3
            return
        with torch.no_grad():
            was = backbone.training
            backbone.eval()
            probe = torch.zeros(1, backbone.meta.in_chans, image_size, image_size,
                                device=next(backbone.parameters()).device)
            outputs, _ = self._run(probe, range(len(group_modules(backbone))))
            backbone.train(was)
        by_size: dict[int, int] = {}
        for i, o in enumerate(outputs):
            if o is not None and o.dim() == 4:
                by_size[o.shape[-1]] = i  # the last map of each resolution
        levels = sorted(by_size.items(), reverse=True)  # finest first
        wanted = [(w, i) for w, i in levels if image_size / w >= MIN_STRIDE][-LEVELS:] or levels[-1:]
        self.picked = [i for _, i in wanted]
        self.strides = [round(image_size / w) for w, _ in wanted]
        self.channels = [outputs[i].shape[1] for i in self.picked]

    def _run(self, x: torch.Tensor, indices) -> tuple[list[torch.Tensor | None], torch.Tensor]:
        modules = group_modules(self.backbone)
        outputs: list[torch.Tensor | None] = [None] * len(modules)
        handles = []
        for i in indices:
            def hook(_m, _inp, out, i=i):
                outputs[i] = out if isinstance(out, torch.Tensor) else None
            handles.append(modules[i].register_forward_hook(hook))
        try:
            final = self.backbone.forward_features(x)
        finally:
            for h in handles:
                h.remove()
        return outputs, final

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Float images in [0, 1] `(B, C, H, W)` -> the maps, finest first."""
        if not self.vit:
            outputs, _ = self._run(x, self.picked)
            return [outputs[i] for i in self.picked]
        tokens = self.backbone.forward_features(x)  # (B, P + N, D)
        gh, gw = x.shape[-2] // self.backbone.meta.patch_size, x.shape[-1] // self.backbone.meta.patch_size
        grid = tokens[:, tokens.shape[1] - gh * gw:].transpose(1, 2).reshape(tokens.shape[0], -1, gh, gw)
        return [F.interpolate(grid, scale_factor=2.0, mode="bilinear", align_corners=False), grid,
                F.max_pool2d(grid, 2, ceil_mode=True)]
