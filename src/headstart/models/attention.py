"""Attention on CPUs: explicit matrix products instead of the fused kernel under bf16.

PyTorch's fused `scaled_dot_product_attention` on a CPU runs a flash-attention kernel whose
backward is slow in bf16, above all on the short sequences of small images (the timings are in
`bench/profile_step.py`). So on a CPU, while autocast (or the tensors) are bf16/fp16, timm's
attention modules take their own explicit path (`q @ k.T`, softmax, `@ v`: batched GEMMs autograd
differentiates); in fp32, where the fused kernel is as fast, and on GPUs they keep it. Numbers are
the same up to rounding.
"""

from __future__ import annotations

import torch
from torch import nn

LOW_PRECISION = (torch.bfloat16, torch.float16)


def explicit_attention_on_cpu(model: nn.Module) -> int:
    """Give every timm-style attention module of `model` (one with a `fused_attn` switch) a hook that
    picks the explicit path for low-precision CPU calls. Returns how many modules got it."""
    count = 0
    for m in model.modules():
        if hasattr(m, "fused_attn") and not getattr(m, "_headstart_attention_hook", False):
            m._headstart_fused_default = bool(m.fused_attn)
            m.register_forward_pre_hook(_choose_path)
            m._headstart_attention_hook = True
            count += 1
    return count


def _choose_path(module: nn.Module, args: tuple) -> None:
    x = args[0]
    module.fused_attn = module._headstart_fused_default and not explicit_pays(x)


def explicit_pays(x: torch.Tensor) -> bool:
    """True for a CPU call that runs in bf16/fp16: by autocast, or by the tensors' own dtype."""
    if x.device.type != "cpu":
        return False
    if torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") in LOW_PRECISION:
        return True
    return x.dtype in LOW_PRECISION
