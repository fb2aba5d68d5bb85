"""The strong view of FixMatch: RandAugment with random magnitudes, then Cutout, batched and seeded.

RandAugment (Cubuk et al. 2020, arXiv:1909.13719) applies `n_ops` operations drawn from a pool
to each image; FixMatch (Sohn et al. 2020, Table 12) draws each magnitude uniformly per image
instead of one global magnitude, and always adds Cutout (DeVries & Taylor 2017) of up to half
the side. Here every image draws its own `n_ops` distinct operations and magnitudes in one tensor
call each; every operation is then computed for the whole batch and kept where drawn
(`torch.where`), so there is no Python loop over images. The pool and ranges:

    identity, autocontrast, equalize            PIL ImageOps semantics (8-bit levels)
    brightness, contrast, color, sharpness      enhance factor 1 +- [0, 0.9] (RandAugment's 0.1-1.9)
    posterize                                   4-8 bits
    solarize                                    threshold in [0, 1]
    rotate +-30 deg, shear_x/y +-0.3, translate_x/y +-30% of the side: one affine resample, black fill
    cutout                                      a square of up to `cutout` x side, grey (0.5)

Colour ops run in the fixed order above (RandAugment draws an order; the difference is small next
to the ops themselves). On 1-channel images `color` is left out of the pool (it would be a no-op).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from headstart.data.views.ops import LUMA, _rand, check_batch

COLOUR = ("identity", "autocontrast", "equalize", "brightness", "contrast", "color", "sharpness", "posterize",
          "solarize")
GEOMETRY = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
MAX_ROTATE, MAX_SHEAR, MAX_TRANSLATE, MAX_ENHANCE = 30.0, 0.3, 0.3, 0.9
_SHARPEN = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13  # PIL's SMOOTH filter


def pool(channels: int) -> tuple[str, ...]:
    """The operations drawn from for images with `channels` channels."""
    return tuple(op for op in COLOUR + GEOMETRY if channels == 3 or op != "color")


def rand_augment(x: torch.Tensor, *, gen: torch.Generator, n_ops: int = 2,
                 cutout: float = 0.5) -> torch.Tensor:
    """RandAugment (`n_ops` per image, random magnitudes) + Cutout on a batch.

    Args:
        x: uint8 or float in [0, 1], `(B, C, H, W)` with C = 1 or 3 (e.g. a weak view).
        gen: the generator every random draw comes from (a seed reproduces the views).
        n_ops: operations per image, distinct, drawn uniformly from `pool(C)`.
        cutout: largest Cutout side as a fraction of the image side (0: none).

    Returns:
        float32 `(B, C, H, W)` in [0, 1].

    Example:
        >>> strong = rand_augment(weak_view, gen=torch.Generator().manual_seed(0))
    """
    check_batch(x)
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float().clamp(0, 1)
    (b, c, h, w), dev = x.shape, x.device
    ops = pool(c)
    pick = _rand(gen, b, len(ops), device=dev).argsort(1)[:, :n_ops]  # (B, n_ops) distinct ops per image
    on = torch.zeros(b, len(ops), dtype=torch.bool, device=dev).scatter_(1, pick, True)
    mag = _rand(gen, b, len(ops), device=dev)  # (B, n) magnitudes in [0, 1)
    signed = mag * torch.where(_rand(gen, b, len(ops), device=dev) < 0.5, -1.0, 1.0)
    for i, op in enumerate(ops):
        if op in COLOUR and op != "identity":
            x = torch.where(on[:, i, None, None, None], _colour(op, x, mag[:, i], signed[:, i]), x)
    theta = _geometry({op: torch.where(on[:, i], signed[:, i], 0.0)
                       for i, op in enumerate(ops) if op in GEOMETRY})
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if cutout > 0:
        x = cut_out(x, cutout * _rand(gen, b, device=dev), _rand(gen, b, 2, device=dev))
    return x.clamp_(0, 1)


def _colour(op: str, x: torch.Tensor, mag: torch.Tensor, signed: torch.Tensor) -> torch.Tensor:
    per_image = (-1, 1, 1, 1)
    factor = (1 + MAX_ENHANCE * signed).view(per_image)
    if op == "autocontrast":
        return autocontrast(x)
    if op == "equalize":
        return equalize(x)
    if op == "brightness":
        return (x * factor).clamp(0, 1)
    if op == "contrast":
        mean = _gray(x).mean((1, 2, 3), keepdim=True)
        return (mean + factor * (x - mean)).clamp(0, 1)
    if op == "color":
        gray = _gray(x)
        return (gray + factor * (x - gray)).clamp(0, 1)
    if op == "sharpness":
        smooth = _smooth(x)
        return (smooth + factor * (x - smooth)).clamp(0, 1)
    if op == "posterize":
        return posterize(x, (4 + (mag * 5).floor()).clamp(max=8))
    if op == "solarize":
        return torch.where(x >= (1 - mag).view(per_image), 1 - x, x)
    raise ValueError(f"unknown colour op {op!r}")


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma `(B, 1, H, W)`."""
    if x.shape[1] == 1:
        return x
    return torch.einsum("bchw,c->bhw", x, torch.tensor(LUMA, device=x.device))[:, None]


def _smooth(x: torch.Tensor) -> torch.Tensor:
    """PIL's SMOOTH filter inside, borders unchanged (ImageEnhance.Sharpness' degenerate image)."""
    b, c, h, w = x.shape
    k = _SHARPEN.to(x.device).view(1, 1, 3, 3)
    inner = F.conv2d(x.reshape(b * c, 1, h, w), k).view(b, c, h - 2, w - 2)
    out = x.clone()
    out[:, :, 1:-1, 1:-1] = inner
    return out


def _levels(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().long()


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Each channel of each image stretched so its darkest pixel is 0 and its brightest 1 (PIL, cutoff 0)."""
    lo, hi = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    return torch.where(hi > lo, (x - lo) / (hi - lo).clamp(min=1e-8), x)


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the top `bits` `(B,)` bits of each 8-bit level (PIL ImageOps.posterize)."""
    shift = (2 ** (8 - bits)).long().view(-1, 1, 1, 1)
    return (_levels(x) // shift * shift).float() / 255


def equalize(x: torch.Tensor) -> torch.Tensor:
    """Per image and channel histogram equalization of the 8-bit levels, as PIL ImageOps.equalize."""
    b, c, h, w = x.shape
    levels = _levels(x).view(b * c, h * w)
    hist = torch.zeros(b * c, 256, dtype=torch.long, device=x.device)
    hist.scatter_add_(1, levels, torch.ones_like(levels))
    used = (hist > 0).long()
    last = used.mul(torch.arange(256, device=x.device)).argmax(1, keepdim=True)  # the brightest level
    step = (h * w - hist.gather(1, last)) // 255  # (B*C, 1)
    lut = ((step // 2 + hist.cumsum(1) - hist) // step.clamp(min=1)).clamp(max=255)
    flat = (used.sum(1, keepdim=True) <= 1) | (step == 0)  # one level, or too few pixels: unchanged
    out = torch.where(flat, levels, lut.gather(1, levels))
    return (out.float() / 255).view(b, c, h, w)


def _geometry(signed: dict[str, torch.Tensor]) -> torch.Tensor:
    """`(B, 2, 3)` thetas (output -> input, normalised coordinates) of rotate . shear_x . shear_y . translate;
    a magnitude of 0 is the identity."""
    rot = signed["rotate"] * math.radians(MAX_ROTATE)
    sx, sy = signed["shear_x"] * MAX_SHEAR, signed["shear_y"] * MAX_SHEAR
    tx, ty = 2 * signed["translate_x"] * MAX_TRANSLATE, 2 * signed["translate_y"] * MAX_TRANSLATE
    one, zero = torch.ones_like(rot), torch.zeros_like(rot)

    def mat(*rows: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return torch.stack([torch.stack(r, -1) for r in rows], 1)  # (B, 3, 3)

    last = (zero, zero, one)
    m = (mat((rot.cos(), -rot.sin(), zero), (rot.sin(), rot.cos(), zero), last)
         @ mat((one, sx, zero), (zero, one, zero), last)
         @ mat((one, zero, zero), (sy, one, zero), last)
         @ mat((one, zero, tx), (zero, one, ty), last))
    return m[:, :2]


def cut_out(x: torch.Tensor, side: torch.Tensor, centre: torch.Tensor, fill: float = 0.5) -> torch.Tensor:
    """A `fill` square of `side` `(B,)` (fraction of the shorter image side) at `centre` `(B, 2)`
    (fractions of height and width) per image, clipped at the borders."""
    b, _, h, w = x.shape
    half = (side * min(h, w) / 2).view(b, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + 0.5
    cols = torch.arange(w, device=x.device).view(1, 1, w) + 0.5
    cy, cx = centre[:, 0].view(b, 1, 1) * h, centre[:, 1].view(b, 1, 1) * w
    inside = ((rows - cy).abs() < half) & ((cols - cx).abs() < half)
    return torch.where(inside[:, None], fill, x)
