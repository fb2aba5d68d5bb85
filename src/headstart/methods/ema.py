"""Exponential moving average teachers (BYOL, DINO, MoCo, distillation targets)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """teacher <- m * teacher + (1 - m) * student, over parameters and float buffers (one fused call)."""
    t = list(teacher.parameters()) + [b for b in teacher.buffers() if b.is_floating_point()]
    s = list(student.parameters()) + [b for b in student.buffers() if b.is_floating_point()]
    torch._foreach_lerp_(t, s, 1.0 - momentum)
