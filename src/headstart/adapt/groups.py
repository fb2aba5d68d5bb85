"""Optimizer parameter groups for fine-tuning: backbone LR multiplier and layer-wise LR decay.

Layer-wise decay (Clark et al. 2020, ELECTRA; Bao et al. 2022, BEiT): with the backbone's `n`
layer groups numbered 0 (input) to n-1 and the head at depth n, group i trains at
`lr * backbone_lr_mult * layer_decay ** (n - i)`. Every group is split into decayed weights and
undecayed 1-D parameters (norms, biases, tokens). Frozen parameters are included, so gradual
unfreezing needs no new optimizer: PyTorch's optimizers skip parameters without gradients.
"""

from __future__ import annotations

from torch import nn

from headstart.adapt.head import Classifier


def lr_scales(n: int, backbone_lr_mult: float, layer_decay: float) -> list[float]:
    """LR multiplier of each of the `n` backbone groups, input first."""
    return [backbone_lr_mult * layer_decay ** (n - i) for i in range(n)]


def finetune_param_groups(
    model: Classifier, *, weight_decay: float, backbone_lr_mult: float = 1.0, layer_decay: float = 1.0
) -> list[dict]:
    """Groups for `build_optimizer`: each has `params`, `weight_decay` and `lr_scale`."""
    layers = model.backbone.layer_groups()
    scales = lr_scales(len(layers), backbone_lr_mult, layer_decay)
    groups = []
    for params, scale in zip(layers, scales, strict=True):
        groups += _split(params, weight_decay, scale)
    groups += _split(list(model.head.parameters()), weight_decay, 1.0)
    return groups


def _split(params: list[nn.Parameter], weight_decay: float, lr_scale: float) -> list[dict]:
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": weight_decay, "lr_scale": lr_scale},
        {"params": no_decay, "weight_decay": 0.0, "lr_scale": lr_scale},
    ]
    return [g for g in groups if g["params"]]
