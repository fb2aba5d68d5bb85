"""Batched, seeded augmentations: every op is a per-sample linear map drawn as tensors.

Each op takes a uint8 or float batch `(B, C, H, W)` (C = 1 or 3) on any device and an explicit
`torch.Generator`; it draws every per-sample parameter in one tensor call and applies all samples
at once (no loop over the batch, no host sync), so a seed reproduces the views on CPU and CUDA.

Geometry. A random resized crop with a horizontal flip (Szegedy et al. 2015, as used by SimCLR,
Chen et al. 2020) is an axis-aligned affine map (`theta`, the `F.affine_grid` convention), so
bilinear resampling separates into a row and a column matrix per sample: `out = Ry @ x @ Rx^T`.
A separable Gaussian blur (SimCLR) composes into the same two matrices, so crop + flip + blur are
two batched matmuls; in bf16 on an AVX512-BF16 CPU they cost ~3x less than one `grid_sample`
(see bench/views.py). `resample` equals `F.grid_sample(x, F.affine_grid(theta), padding_mode=
"border", align_corners=False)` (tested).

Colour. Brightness, contrast, saturation and a hue rotation in YIQ space are one per-sample 3x3
affine map; grayscale is another (ITU-R 601 luma, as torchvision). They are fused into one batched
matmul and clamped to [0, 1] once at the end, where torchvision clamps after each op. Without the
intermediate clamps the four jitter ops commute (hue and saturation act on the I/Q chroma plane
and keep luma, so the contrast mean is order-free), hence no random order is drawn.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from headstart.errors import HeadstartError

LUMA = (0.299, 0.587, 0.114)
_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _rand(gen: torch.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    """U[0, 1) drawn on the generator's device, then moved to the data's device."""
    return torch.rand(shape, generator=gen, device=gen.device).to(device, non_blocking=True)


def coin(p: float, batch: int, *, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Per-sample Bernoulli(p) as bool `(B,)`; always draws, so the random stream is fixed."""
    return _rand(gen, batch, device=device) < p


def check_batch(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise HeadstartError(f"views expect an image batch (B, C, H, W) with C = 1 or 3, got {tuple(x.shape)}",
                             fix="serve images through ImageSet, which converts to 1 or 3 channels")


def auto_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the CPU multiplies it natively (exact for uint8 inputs, ~3x faster), else float32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private but long-lived torch.cpu helpers
    native = any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return torch.bfloat16 if device.type == "cpu" and native else torch.float32


def prepare(x: torch.Tensor, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, float]:
    """The batch in `dtype`, unscaled (uint8 0..255 is exact in bf16), and the unit that maps it to [0, 1]."""
    check_batch(x)
    dtype = dtype or auto_dtype(x.device)
    unit = 1 / 255 if x.dtype == torch.uint8 else 1.0
    return x.to(dtype).contiguous(), unit


# ---- geometry: thetas -> 1-D taps -> dense matrices -> two matmuls --------------------------------


def crop_theta(batch: int, hw: tuple[int, int], *, scale: tuple[float, float] = (0.08, 1.0),
               ratio: tuple[float, float] = (3 / 4, 4 / 3), flip_p: float = 0.5, gen: torch.Generator,
               device: torch.device | str = "cpu", tries: int = 10) -> torch.Tensor:
    """Per-sample `(B, 2, 3)` thetas of a random resized crop + horizontal flip.

    As torchvision's RandomResizedCrop: up to `tries` (area, log-aspect) draws per sample, the first
    that fits wins, else the whole image; crop positions are continuous instead of whole pixels.
    """
    device, (h, w) = torch.device(device), hw
    area = (scale[0] + (scale[1] - scale[0]) * _rand(gen, batch, tries, device=device)) * (h * w)
    log_r = math.log(ratio[0]) + math.log(ratio[1] / ratio[0]) * _rand(gen, batch, tries, device=device)
    cw, ch = (area * log_r.exp()).sqrt(), (area / log_r.exp()).sqrt()  # (B, tries) in pixels
    fits = (cw <= w) & (ch <= h)
    first = fits.int().argmax(1, keepdim=True)  # index of the first fitting try
    cw = torch.where(fits.any(1), cw.gather(1, first)[:, 0], float(w))
    ch = torch.where(fits.any(1), ch.gather(1, first)[:, 0], float(h))
    left, top = _rand(gen, batch, device=device) * (w - cw), _rand(gen, batch, device=device) * (h - ch)
    sign = 1.0 - 2.0 * coin(flip_p, batch, gen=gen, device=device).float()
    theta = torch.zeros(batch, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = sign * cw / w, (2 * left + cw) / w - 1
    theta[:, 1, 1], theta[:, 1, 2] = ch / h, (2 * top + ch) / h - 1
    return theta


class Taps(NamedTuple):
    """A batch of sparse 1-D linear maps: out[b, i] = sum_t weight[b, i, t] * in[b, index[b, i, t]]."""

    index: torch.Tensor  # (B, n_out, T) long
    weight: torch.Tensor  # (B, n_out, T) float32

    def dense(self, n_in: int, unit: float = 1.0) -> torch.Tensor:
        """The `(B, n_out, n_in)` matrix, times `unit`."""
        out = torch.zeros(*self.index.shape[:2], n_in, device=self.weight.device)
        return out.scatter_add_(2, self.index, self.weight * unit)


def affine_taps(s: torch.Tensor, t: torch.Tensor, n_out: int, n_in: int,
                pos: torch.Tensor | None = None) -> Taps:
    """Bilinear taps of `in = s * out + t` (normalized coordinates, align_corners=False, border padding),
    sampled at output pixel positions `pos` (n_out, K) (default: each pixel, K = 1)."""
    if pos is None:
        pos = torch.arange(n_out, device=s.device, dtype=torch.float32)[:, None]
    out = (2 * pos + 1) / n_out - 1  # (n_out, K) pixel centres in [-1, 1]
    u = ((s.view(-1, 1, 1) * out + t.view(-1, 1, 1) + 1) * n_in - 1) / 2  # (B, n_out, K) source positions
    u = u.clamp(0, n_in - 1)
    i0 = u.floor()
    frac = (u - i0).unsqueeze(-1)
    i0 = i0.long().unsqueeze(-1)
    index = torch.cat([i0, (i0 + 1).clamp(max=n_in - 1)], -1).flatten(2)  # (B, n_out, 2K)
    return Taps(index, torch.cat([1 - frac, frac], -1).flatten(2))


def blur_kernel_size(n: int, fraction: float = 0.1) -> int:
    """SimCLR's kernel: `fraction` of the image side, odd, at least 3."""
    return max(3, int(fraction * n) // 2 * 2 + 1)


def blurred_affine_taps(s: torch.Tensor, t: torch.Tensor, n_out: int, n_in: int, sigma: torch.Tensor,
                        k: int) -> Taps:
    """`affine_taps` followed by a per-sample Gaussian blur (`sigma` (B,) pixels, `k` taps, reflect padding
    at the output borders): each output pixel reads the bilinear taps of its k reflected neighbours."""
    d = torch.arange(k, device=s.device, dtype=torch.float32) - k // 2
    g = torch.exp(-0.5 * (d / sigma.clamp(min=1e-3)[:, None]) ** 2)  # (B, k)
    g = g / g.sum(1, keepdim=True)
    pos = (torch.arange(n_out, device=s.device)[:, None] + d).abs()  # (n_out, k) reflect at 0
    pos = torch.where(pos > n_out - 1, 2 * (n_out - 1) - pos, pos).clamp(0, n_out - 1)  # reflect at the end
    taps = affine_taps(s, t, n_out, n_in, pos)
    return Taps(taps.index, taps.weight * g.repeat_interleave(2, 1)[:, None, :])


def resample(x: torch.Tensor, ry: torch.Tensor, rx: torch.Tensor) -> torch.Tensor:
    """`ry @ x @ rx^T` per sample and channel: x (B, C, H, W), ry (B, S, H), rx (B, T, W) -> (B, C, S, T)."""
    b, c, h, w = x.shape
    y = torch.matmul(x.reshape(b, c * h, w), rx.to(x.dtype).transpose(1, 2))  # (B, C*H, T)
    return torch.matmul(ry.to(x.dtype)[:, None], y.view(b, c, h, -1))


def theta_taps(theta: torch.Tensor, size: tuple[int, int], hw: tuple[int, int],
               sigma: torch.Tensor | None = None, kernel_fraction: float = 0.1) -> tuple[Taps, Taps]:
    """Row and column taps of axis-aligned thetas `(B, 2, 3)`, output `size`, input `hw`; then a Gaussian
    blur of per-sample `sigma` (B,) pixels with a kernel of `kernel_fraction` of the output side, if given."""
    if sigma is None:
        return (affine_taps(theta[:, 1, 1], theta[:, 1, 2], size[0], hw[0]),
                affine_taps(theta[:, 0, 0], theta[:, 0, 2], size[1], hw[1]))
    k_rows, k_cols = blur_kernel_size(size[0], kernel_fraction), blur_kernel_size(size[1], kernel_fraction)
    return (blurred_affine_taps(theta[:, 1, 1], theta[:, 1, 2], size[0], hw[0], sigma, k_rows),
            blurred_affine_taps(theta[:, 0, 0], theta[:, 0, 2], size[1], hw[1], sigma, k_cols))


def random_resized_crop(x: torch.Tensor, size: int, *, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), flip_p: float = 0.5,
                        gen: torch.Generator, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Random resized crop + horizontal flip, bilinear, to `(B, C, size, size)` float32 in [0, 1]."""
    xf, unit = prepare(x, dtype)
    hw = tuple(x.shape[-2:])
    theta = crop_theta(len(x), hw, scale=scale, ratio=ratio, flip_p=flip_p, gen=gen, device=x.device)
    rows, cols = theta_taps(theta, (size, size), hw)
    return resample(xf, rows.dense(hw[0], unit), cols.dense(hw[1])).float().clamp_(0, 1)


def gaussian_blur(x: torch.Tensor, sigma: tuple[float, float] = (0.1, 2.0), *, p: float = 0.5,
                  kernel_fraction: float = 0.1, gen: torch.Generator,
                  dtype: torch.dtype | None = None) -> torch.Tensor:
    """Per-sample Gaussian blur with probability `p`, sigma ~ U(`sigma`) pixels, kernel `kernel_fraction`
    of the image side (SimCLR), separable, reflect padding. Returns float32 in [0, 1]."""
    xf, unit = prepare(x, dtype)
    (b, _, h, w), dev = x.shape, x.device
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=dev).expand(b, 2, 3)
    s = draw_sigma(sigma, p, b, gen=gen, device=dev)
    rows, cols = theta_taps(identity, (h, w), (h, w), s, kernel_fraction)
    return resample(xf, rows.dense(h, unit), cols.dense(w)).float().clamp_(0, 1)


def draw_sigma(sigma: tuple[float, float], p: float, batch: int, *, gen: torch.Generator,
               device: torch.device) -> torch.Tensor:
    """Per-sample blur sigma `(B,)`; 0 (no blur) where the coin says no."""
    s = sigma[0] + (sigma[1] - sigma[0]) * _rand(gen, batch, device=device)
    return torch.where(coin(p, batch, gen=gen, device=device), s, 0.0)


# ---- colour: per-sample affine maps, one matmul, one clamp ----------------------------------------


def jitter_factors(batch: int, brightness: float, contrast: float, saturation: float, hue: float, *,
                   p: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Per-sample `(B, 4)` (brightness, contrast, saturation, hue) factors as torchvision's ColorJitter
    draws them (hue in turns); the identity (1, 1, 1, 0) where the coin (prob. `p`) says no."""
    lo = torch.tensor([max(0.0, 1 - brightness), max(0.0, 1 - contrast), max(0.0, 1 - saturation), -hue])
    hi = torch.tensor([1 + brightness, 1 + contrast, 1 + saturation, hue])
    f = lo.to(device) + (hi - lo).to(device) * _rand(gen, batch, 4, device=device)
    identity = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device)
    return torch.where(coin(p, batch, gen=gen, device=device)[:, None], f, identity)


def color_affine(means: torch.Tensor, factors: torch.Tensor | None = None,
                 gray: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Matrix `(B, C, C)` and bias `(B, C)` of jitter `factors`, then grayscale where `gray` (B,) is True,
    for images whose channel `means` (B, C) in [0, 1] give the mean luma that contrast pulls towards."""
    (b, c), dev = means.shape, means.device
    eye = torch.eye(c, device=dev).expand(b, c, c)
    if factors is None:
        m, bias = eye, torch.zeros(b, c, device=dev)
    else:
        bright, con, sat, hue = factors.unbind(1)
        mean = means @ torch.tensor(LUMA, device=dev) if c == 3 else means[:, 0]
        bias = ((1 - con) * bright * mean)[:, None].expand(b, c)
        m = (bright * con).view(b, 1, 1) * (eye if c == 1 else _chroma(sat, hue))
    if gray is not None and c == 3:
        to_gray = torch.tensor(LUMA, device=dev).expand(3, 3)  # every row = luma weights
        m = torch.where(gray.view(b, 1, 1), to_gray @ m, m)  # bias is already gray: unchanged
    return m, bias


def _chroma(sat: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """RGB matrices `(B, 3, 3)` that scale YIQ chroma by `sat` and rotate it by `hue` turns, keeping luma."""
    yiq = torch.tensor(_YIQ, device=sat.device)
    cos, sin = torch.cos(2 * math.pi * hue) * sat, torch.sin(2 * math.pi * hue) * sat
    d = torch.zeros(len(sat), 3, 3, device=sat.device)
    d[:, 0, 0] = 1
    d[:, 1, 1], d[:, 1, 2], d[:, 2, 1], d[:, 2, 2] = cos, -sin, sin, cos
    return torch.linalg.inv(yiq) @ d @ yiq


def apply_color(y: torch.Tensor, m: torch.Tensor | None, bias: torch.Tensor | None, *, unit: float = 1.0,
                channels_last: bool = False) -> torch.Tensor:
    """`clamp(m @ (unit * y) + bias, 0, 1)` per pixel (`m` None: identity), as float32 `(B, C, H, W)`."""
    b, c, h, w = y.shape
    if m is None:
        out = (y.float() * unit).clamp_(0, 1)
    else:  # bmm then add: baddbmm with a broadcast bias is 5x slower on CPU
        out = torch.bmm(m * unit, y.reshape(b, c, h * w).float()).add_(bias[:, :, None]).clamp_(0, 1)
    out = out.view(b, c, h, w)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def color_jitter(x: torch.Tensor, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 hue: float = 0.1, *, p: float = 0.8, gen: torch.Generator) -> torch.Tensor:
    """Per-sample colour jitter with probability `p`; on 1-channel input only brightness and contrast act."""
    xf, unit = prepare(x, torch.float32)
    f = jitter_factors(len(x), brightness, contrast, saturation, hue, p=p, gen=gen, device=x.device)
    m, bias = color_affine(xf.mean((2, 3)) * unit, f)
    return apply_color(xf, m, bias, unit=unit)


def random_grayscale(x: torch.Tensor, *, p: float = 0.2, gen: torch.Generator) -> torch.Tensor:
    """Per-sample grayscale (luma in all three channels) with probability `p`; no-op on 1-channel input."""
    xf, unit = prepare(x, torch.float32)
    m, bias = color_affine(xf.new_zeros(xf.shape[:2]), None, coin(p, len(x), gen=gen, device=x.device))
    return apply_color(xf, m, bias, unit=unit)


def solarize(x: torch.Tensor, threshold: float = 0.5, *, p: float = 0.2, gen: torch.Generator) -> torch.Tensor:
    """Per-sample solarization with probability `p`: values >= `threshold` become 1 - value (BYOL)."""
    xf, unit = prepare(x, torch.float32)
    on = coin(p, len(x), gen=gen, device=x.device)
    return solarize_where(xf * unit, on, threshold)


def solarize_where(x: torch.Tensor, on: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    return torch.where(on.view(-1, 1, 1, 1) & (x >= threshold), 1 - x, x)


# ---- evaluation and masking ---------------------------------------------------------------------------


def to_float(x: torch.Tensor, size: int | None = None, *, channels_last: bool = False) -> torch.Tensor:
    """uint8 `(B, C, H, W)` -> float32 in [0, 1], resized to `size` (antialiased bilinear) if it differs."""
    check_batch(x)
    out = x.float()
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        out = F.interpolate(out, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    out = out.div_(255).clamp_(0, 1) if x.dtype == torch.uint8 else out.clamp_(0, 1)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


class Mask(NamedTuple):
    """MAE masking of `N` patches per sample (True in `mask` = hidden from the encoder)."""

    keep: torch.Tensor  # (B, N_keep) indices of the visible patches
    mask: torch.Tensor  # (B, N) bool, in the original patch order
    restore: torch.Tensor  # (B, N) argsort that puts [visible, hidden] back in the original order


def random_mask(num_patches: int, ratio: float, *, batch: int, gen: torch.Generator,
                device: torch.device | str = "cpu") -> Mask:
    """Per-sample random masking via argsort of uniform noise (He et al. 2022, MAE `random_masking`)."""
    if not 0 <= ratio < 1:
        raise HeadstartError(f"mask ratio {ratio} is outside [0, 1)", fix="use e.g. mask_ratio=0.75")
    keep_n = int(num_patches * (1 - ratio))
    noise = _rand(gen, batch, num_patches, device=torch.device(device))
    shuffle = noise.argsort(1)  # (B, N) ascending: the first keep_n are kept
    restore = shuffle.argsort(1)
    mask = torch.ones(batch, num_patches, dtype=torch.bool, device=noise.device)
    mask[:, :keep_n] = False
    return Mask(shuffle[:, :keep_n], mask.gather(1, restore), restore)
