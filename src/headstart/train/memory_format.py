"""Conv-net layout for training: channels-last, and on CPUs two exceptions for tiny maps.

oneDNN's CPU convolutions are fast on channels-last maps from 8x8 pixels up and about even at
4x4, but slow on tiny maps, above all in backward: ResNet-18's last stage at 64 px (2x2 output
maps) is where its CPU step time went (the profile and the per-convolution timings are in
`bench/profile_step.py`). So on a CPU:
- a convolution whose *output* map has fewer than `MIN_PIXELS` pixels, with a kernel larger than
  1x1 and an input map at most twice the kernel's pixels, becomes a `TinyMapConv2d`: the kernel's
  taps are gathered into one `(Ho*Wo*O, H*W*C)` matrix and the whole convolution is one GEMM, which
  runs near the machine's matmul peak where oneDNN's small-map kernels do not. On a 2x2 map with
  a 3x3 kernel the dense product does fewer FLOPs than the convolution (padding taps are skipped);
  at most it does twice as many. Parameters, state dict and numbers are those of `nn.Conv2d`.
- other convolutions on input maps under `MIN_PIXELS` pixels (1x1 kernels) keep contiguous weights
  and get a contiguous input: channels-last kernels are slower there too.
GPUs keep channels-last everywhere (cuDNN has no such cliff).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

MIN_PIXELS = 16  # output maps smaller than this go dense; input maps smaller than this stay contiguous
MAX_DENSE_RATIO = 2  # dense FLOPs / convolution FLOPs = input pixels / kernel pixels, at most this


def channels_last(backbone: nn.Module, image_size: int, *, cpu: bool) -> dict[nn.Conv2d, str]:
    """Convert `backbone` to channels-last in place; on a CPU, give tiny-map convolutions the faster
    path at `image_size`. Returns those convolutions, each with `"dense"` or `"contiguous"`."""
    backbone.to(memory_format=torch.channels_last)
    if not cpu:
        return {}
    special: dict[nn.Conv2d, str] = {}
    for conv, (pixels_in, pixels_out) in map_pixels(backbone, image_size).items():
        if isinstance(conv, TinyMapConv2d) or (type(conv) is nn.Conv2d and dense_pays(conv, pixels_in, pixels_out)):
            conv.__class__ = TinyMapConv2d  # same module, parameters and state dict; another forward
            special[conv] = "dense"
        elif pixels_in < MIN_PIXELS:
            conv.weight.data = conv.weight.data.contiguous()
            if not getattr(conv, "contiguous_input", False):  # not laid out before (self-training rounds)
                conv.register_forward_pre_hook(_contiguous_input)
                conv.contiguous_input = True
            special[conv] = "contiguous"
    return special


def dense_pays(conv: nn.Conv2d, pixels_in: int, pixels_out: int) -> bool:
    kernel = conv.kernel_size[0] * conv.kernel_size[1]
    return (isinstance(conv, nn.Conv2d) and conv.groups == 1 and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str) and kernel > 1 and pixels_out < MIN_PIXELS
            and pixels_in <= MAX_DENSE_RATIO * kernel)


def map_pixels(backbone: nn.Module, image_size: int) -> dict[nn.Conv2d, tuple[int, int]]:
    """Pixels of each convolution's input and output map, from one no-grad eval forward of one image."""
    seen: dict[nn.Conv2d, tuple[int, int]] = {}

    def record(conv: nn.Module, args: tuple, out: torch.Tensor) -> None:
        seen.setdefault(conv, (args[0].shape[-2] * args[0].shape[-1], out.shape[-2] * out.shape[-1]))

    hooks = [m.register_forward_hook(record) for m in backbone.modules() if isinstance(m, nn.Conv2d)]
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


class TinyMapConv2d(nn.Conv2d):
    """`nn.Conv2d` computed as one matrix product; for maps of a few pixels (see the module doc)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        n, c, h, w = x.shape
        ho, wo = output_size(h, w, self.kernel_size, self.stride, self.padding, self.dilation)
        if not dense_pays(self, h * w, ho * wo):  # another image size than the one laid out for
            return super()._conv_forward(x, weight, bias)
        index = tap_index(h, w, self.kernel_size, self.stride, self.padding, self.dilation)
        if torch.is_autocast_enabled(x.device.type):  # gather and multiply in the autocast dtype
            dtype = torch.get_autocast_dtype(x.device.type)
            x, weight = x.to(dtype), weight.to(dtype)
        o = weight.shape[0]
        taps = torch.cat([weight.flatten(2), weight.new_zeros(o, c, 1)], 2).permute(2, 0, 1).reshape(-1, o * c)
        # rows of whole (O, C) taps: index_select's backward is a row-wise index_add, 2x faster than indexing's
        matrix = taps.index_select(0, index.to(x.device).flatten()).view(ho * wo, h * w, o, c)
        matrix = matrix.permute(0, 2, 1, 3).reshape(ho * wo * o, h * w * c)
        y = (x.permute(0, 2, 3, 1).reshape(n, h * w * c) @ matrix.T).view(n, ho, wo, o)
        if bias is not None:
            y = y + bias.to(y.dtype)
        return y.permute(0, 3, 1, 2)  # (N, O, Ho, Wo), channels-last in memory


def output_size(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                dilation: tuple[int, int]) -> tuple[int, int]:
    return tuple((size + 2 * p - d * (k - 1) - 1) // s + 1
                 for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation))


@lru_cache(maxsize=64)
def tap_index(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
              dilation: tuple[int, int]) -> torch.Tensor:
    """`(Ho*Wo, H*W)` kernel tap linking each output pixel to each input pixel; `kh*kw` where none."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    ho, wo = output_size(h, w, kernel, stride, padding, dilation)
    index = torch.full((ho * wo, h * w), kh * kw, dtype=torch.long)
    for oi in range(ho):
        for oj in range(wo):
            for ki in range(kh):
                for kj in range(kw):
                    i, j = oi * sh - ph + ki * dh, oj * sw - pw + kj * dw
                    if 0 <= i < h and 0 <= j < w:
                        index[oi * wo + oj, i * w + j] = ki * kw + kj
    return index
