"""Built-in nets sized for a 2-core CPU and 28-64 px images.

`resnet-mini`: a CIFAR-style ResNet (3x3 stem, no max-pool, BasicBlocks; He et al. 2016) —
pretrains on Fashion-MNIST in minutes. Its features keep a 2x2 grid of the last map (4 x 256 = 1024
values) instead of one global average: small images are often aligned (digits, products, cells),
and where a part sits is part of what it is (the gain on Fashion-MNIST: README, "Where the defaults
come from"). `vit-tiny`: a timm VisionTransformer with patch 4, so a 28-32 px image gives 7x7-8x8
tokens (for MAE and DINO).
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.models.backbone import Backbone, BackboneMeta

SMALL_MEAN, SMALL_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNetMini(nn.Module):
    """Stem 3x3 -> 4 stages (widths, strides) -> average pool to a grid x grid map -> (B, widths[-1] * grid^2)."""

    def __init__(self, widths=(32, 64, 128, 256), depths=(1, 1, 1, 1), strides=(1, 2, 2, 2), in_chans=3,
                 grid: int = 2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages, cin = [], widths[0]
        for w, d, s in zip(widths, depths, strides):
            stages.append(nn.Sequential(*[BasicBlock(cin if i == 0 else w, w, s if i == 0 else 1) for i in range(d)]))
            cin = w
        self.stages = nn.Sequential(*stages)
        self.grid = grid
        self.num_features = widths[-1] * grid * grid
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))  # (B, C, h, w)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) map -> (B, C * grid^2) features (timm's name for the pooling step)."""
        return grid_pool(feats, self.grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def grid_pool(x: torch.Tensor, grid: int) -> torch.Tensor:
    """`adaptive_avg_pool2d(x, grid).flatten(1)` written with slices, so ONNX export keeps any input size.

    Cell (i, j) averages rows [i*h // g, ceil((i+1)*h / g)) and the same for columns, as PyTorch's
    adaptive pooling does (cells overlap when h is not a multiple of g). (B, C, h, w) -> (B, C * g * g).
    """
    if grid == 1:
        return x.mean((2, 3))
    h, w = x.shape[-2:]
    rows = [x[:, :, (i * h) // grid:((i + 1) * h + grid - 1) // grid] for i in range(grid)]
    cells = [r[..., (j * w) // grid:((j + 1) * w + grid - 1) // grid].mean((2, 3)) for r in rows for j in range(grid)]
    return torch.stack(cells, dim=2).flatten(1)


def resnet_mini(**kw) -> Backbone:
    m = ResNetMini(**kw)
    meta = BackboneMeta("headstart/resnet-mini", "headstart", m.num_features, SMALL_MEAN, SMALL_STD,
                        default_size=32)
    return Backbone(m, meta, lambda mod: [[mod.stem], *[[s] for s in mod.stages]])


def vit_tiny(img_size: int = 32, patch_size: int = 4, depth: int = 6, **kw) -> Backbone:
    from timm.models.vision_transformer import VisionTransformer

    m = VisionTransformer(img_size=img_size, patch_size=patch_size, embed_dim=192, depth=depth, num_heads=3,
                          num_classes=0, dynamic_img_size=True, **kw)
    meta = BackboneMeta("headstart/vit-tiny", "headstart", m.num_features, SMALL_MEAN, SMALL_STD,
                        default_size=img_size, patch_size=patch_size)
    return Backbone(m, meta, vit_groups)


def vit_groups(m: nn.Module) -> list[list[nn.Module | nn.Parameter]]:
    """timm ViT: embeddings (patch, cls token, positions), each block, final norm."""
    embed = [m.patch_embed] + [p for p in (getattr(m, "cls_token", None), getattr(m, "pos_embed", None))
                               if p is not None]
    return [embed, *[[b] for b in m.blocks], [m.norm]]


BUILTIN = {"resnet-mini": resnet_mini, "vit-tiny": vit_tiny}
