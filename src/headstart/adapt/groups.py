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
    model: Classifier, *, weight_decay: float, backbone_lr_mult: float = 1.0, layer_decay: float = 1.0,
    multipliers: dict[int, float] | None = None,
) -> list[dict]:
    """Groups for `build_optimizer`: each has `params`, `weight_decay` and `lr_scale`; `multipliers`
    (parameter id -> factor, e.g. LoRA+'s on the B matrices) scale single parameters further."""
    layers = model.backbone.layer_groups()
    scales = lr_scales(len(layers), backbone_lr_mult, layer_decay)
    groups = []
    for params, scale in zip(layers, scales, strict=True):
        groups += _split(params, weight_decay, scale, multipliers or {})
    groups += _split(list(model.head.parameters()), weight_decay, 1.0, multipliers or {})
    return groups


def _split(params: list[nn.Parameter], weight_decay: float, lr_scale: float,
           multipliers: dict[int, float]) -> list[dict]:
    groups = []
    for factor in sorted({multipliers.get(id(p), 1.0) for p in params}):
        mine = [p for p in params if multipliers.get(id(p), 1.0) == factor]
        groups += [
            {"params": [p for p in mine if p.ndim > 1], "weight_decay": weight_decay, "lr_scale": lr_scale * factor},
            {"params": [p for p in mine if p.ndim <= 1], "weight_decay": 0.0, "lr_scale": lr_scale * factor},
        ]
    return [g for g in groups if g["params"]]
