"""Channels-last for conv nets, except where a CPU runs it slower: maps smaller than 4x4.

oneDNN's CPU convolutions are faster on channels-last maps from 8x8 pixels up and about even
at 4x4, but at 2x2 (ResNet-18's last stage at 64 px) the channels-last kernels take 2.2x the
time forward and 1.2x backward (bf16, 512 -> 512 channels, one AVX512-BF16 core: 20.2 vs
9.0 ms and 56 vs 49 ms for 256 maps). Those few convolutions keep contiguous weights and get a
contiguous input; a whole ResNet-18 SimCLR step at 64 px then takes 0.95 instead of 1.02 CPU
seconds (batch 128, see bench/peers.py). GPUs keep channels-last everywhere.
"""

from __future__ import annotations

import torch
from torch import nn

MIN_PIXELS = 16  # convolutions whose input map has fewer pixels stay contiguous on CPUs


def channels_last(backbone: nn.Module, image_size: int, *, cpu: bool) -> list[nn.Conv2d]:
    """Convert `backbone` to channels-last in place; on a CPU, convolutions whose input at
    `image_size` is smaller than `MIN_PIXELS` stay contiguous. Returns those convolutions."""
    backbone.to(memory_format=torch.channels_last)
    if not cpu:
        return []
    small = [conv for conv, pixels in input_pixels(backbone, image_size).items() if pixels < MIN_PIXELS]
    for conv in small:
        conv.weight.data = conv.weight.data.contiguous()
        conv.register_forward_pre_hook(_contiguous_input)
    return small


def input_pixels(backbone: nn.Module, image_size: int) -> dict[nn.Conv2d, int]:
    """Pixels of each convolution's input map, from one no-grad eval forward of one image."""
    seen: dict[nn.Conv2d, int] = {}

    def record(conv: nn.Module, args: tuple) -> None:
        seen.setdefault(conv, args[0].shape[-2] * args[0].shape[-1])

    hooks = [m.register_forward_pre_hook(record) for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    was_training = backbone.training
    try:
        with torch.no_grad():
            backbone.eval()(torch.full((1, 3, image_size, image_size), 0.5))  # eval: BN statistics untouched
    finally:
        backbone.train(was_training)
        for hook in hooks:
            hook.remove()
    return seen


def _contiguous_input(conv: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(), *args[1:])
