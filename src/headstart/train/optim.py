"""Optimizers: no weight decay on norms and biases; fused kernels where the device has them."""

from __future__ import annotations

import torch
from torch import nn

from headstart.errors import HeadstartError

OPTIMIZERS = ("adamw", "lars", "sgd")


def param_groups(modules: list[nn.Module], weight_decay: float, lr_scale: float = 1.0) -> list[dict]:
    """Two groups: weights (decayed) and 1-D params (norms, biases, tokens; not decayed)."""
    decay, no_decay = [], []
    for m in modules:
        for p in m.parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
    # LARS (lightly's) skips its trust ratio where weight_decay is 0: the no-decay group is its exclusion too
    groups = [{"params": decay, "weight_decay": weight_decay, "lr_scale": lr_scale},
              {"params": no_decay, "weight_decay": 0.0, "lr_scale": lr_scale}]
    return [g for g in groups if g["params"]]


def build_optimizer(modules: list[nn.Module] | list[dict], name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """`modules` are split into decay/no-decay groups; a list of dicts is taken as groups already."""
    groups = modules if modules and isinstance(modules[0], dict) else param_groups(modules, weight_decay)
    if name == "adamw":
        fused = all(p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=fused)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)
    if name == "lars":
        from lightly.utils.lars import LARS

        return LARS(groups, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise HeadstartError(f"unknown optimizer {name!r}", fix=f"use one of {', '.join(OPTIMIZERS)}")
