"""View recipes: which augmented views each pretraining method sees, as data.

A `ViewRecipe` is a tuple of `ViewSpec`s (crop size and scale, flip, jitter strengths and
probabilities per view); calling it on a uint8 batch returns the list of float views. Each view is
one fused pass: crop + flip + blur as two batched matmuls, jitter + grayscale (+ the /255) as one
per-sample colour matmul with one clamp, then solarization (see `ops`).

Paper defaults, scaled for small images: blur sigmas are the papers' (0.1, 2.0) px at 224 px times
`size / 224`, with a kernel of 10% of the side (SimCLR); at 32 px and below blur is off, as in the
SimCLR CIFAR-10 recipe. On 1-channel input the colour ops reduce to brightness and contrast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from headstart.data.views import ops
from headstart.registry import Registry

Range = tuple[float, float]


@dataclass(frozen=True)
class ViewSpec:
    """One kind of view; `count` of them are drawn independently."""

    size: int
    scale: Range | None = (0.08, 1.0)  # crop area fraction; None = whole image resized (evaluation)
    ratio: Range = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # brightness, contrast, saturation, hue
    jitter_p: float = 0.0
    grayscale_p: float = 0.0
    blur_p: float = 0.0
    blur_sigma: Range = (0.1, 2.0)  # pixels at `size`
    solarize_p: float = 0.0
    count: int = 1


@dataclass(frozen=True)
class ViewRecipe:
    """A method's views. `recipe(x_uint8, gen)` -> list of float32 `(B, C, size, size)` in [0, 1]."""

    name: str
    views: tuple[ViewSpec, ...]
    channels_last: bool = False
    dtype: torch.dtype | None = None  # matmul dtype; None = bf16 where the CPU has it, else float32

    @property
    def sizes(self) -> list[int]:
        return [v.size for v in self.views for _ in range(v.count)]

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        xf, unit = ops.prepare(x, self.dtype)  # converted once for all views
        return [self.view(x, xf, unit, spec, gen) for spec in self.views for _ in range(spec.count)]

    def view(self, x: torch.Tensor, xf: torch.Tensor, unit: float, v: ViewSpec,
             gen: torch.Generator) -> torch.Tensor:
        if v.scale is None:
            return ops.to_float(x, v.size, channels_last=self.channels_last)
        (b, c, h, w), dev = x.shape, x.device
        theta = ops.crop_theta(b, (h, w), scale=v.scale, ratio=v.ratio, flip_p=v.flip_p, gen=gen, device=dev)
        jitter = ops.jitter_factors(b, *v.jitter, p=v.jitter_p, gen=gen, device=dev) if v.jitter_p else None
        gray = ops.coin(v.grayscale_p, b, gen=gen, device=dev) if v.grayscale_p else None
        sigma = ops.draw_sigma(v.blur_sigma, v.blur_p, b, gen=gen, device=dev) if v.blur_p else None
        rows, cols = ops.theta_taps(theta, (v.size, v.size), (h, w), sigma)
        y = ops.resample(xf, rows.dense(h), cols.dense(w))  # (B, C, size, size), input units
        m = bias = None
        if jitter is not None or gray is not None:
            means = y.mean((2, 3), dtype=torch.float32) * unit if jitter is not None else y.new_zeros(b, c)
            m, bias = ops.color_affine(means.float(), jitter, gray)
        out = ops.apply_color(y, m, bias, unit=unit, channels_last=self.channels_last)
        if v.solarize_p:
            out = ops.solarize_where(out, ops.coin(v.solarize_p, b, gen=gen, device=dev))
        return out


RECIPES: Registry[Callable[..., ViewRecipe]] = Registry("view recipe")


def _blur(size: int, p: float) -> dict:
    """Blur probability and sigma range at `size`: off at <= 32 px (SimCLR CIFAR), sigma scaled from 224 px."""
    return {"blur_p": p if size > 32 else 0.0, "blur_sigma": (0.1 * size / 224, 2.0 * size / 224)}


def _colour(strength: float) -> dict:
    """SimCLR colour distortion of strength s: jitter (0.8s, 0.8s, 0.8s, 0.2s) w.p. 0.8, grayscale w.p. 0.2."""
    s = 0.8 * strength
    return {"jitter": (s, s, s, 0.2 * strength), "jitter_p": 0.8, "grayscale_p": 0.2}


@RECIPES.add("simclr")
def simclr(size: int, *, strength: float = 0.5) -> ViewRecipe:
    """SimCLR (Chen et al. 2020): two views, crop (0.08, 1), flip, colour s=0.5 (CIFAR), blur p=0.5."""
    view = ViewSpec(size, scale=(0.08, 1.0), **_colour(strength), **_blur(size, 0.5))
    return ViewRecipe("simclr", (replace(view, count=2),))


@RECIPES.add("light")
def light(size: int) -> ViewRecipe:
    """Two light views for short budgets on small images: crop (0.25, 1), flip, brightness and contrast
    0.4 w.p. 0.8; no blur, grayscale or hue: a short run on small grey images learns more from easy
    pairs than from views it cannot yet match (README, "Where the defaults come from")."""
    view = ViewSpec(size, scale=(0.25, 1.0), jitter=(0.4, 0.4, 0.0, 0.0), jitter_p=0.8)
    return ViewRecipe("light", (replace(view, count=2),))


@RECIPES.add("moco")
def moco(size: int) -> ViewRecipe:
    """MoCo v2 (Chen et al. 2020): two views, crop (0.2, 1), jitter (0.4, 0.4, 0.4, 0.1) p=0.8, gray 0.2, blur 0.5."""
    view = ViewSpec(size, scale=(0.2, 1.0), **_colour(0.5), **_blur(size, 0.5))
    return ViewRecipe("moco", (replace(view, count=2),))


def _byol_pair(size: int, scale: Range) -> tuple[ViewSpec, ViewSpec]:
    """BYOL's asymmetric pair (Grill et al. 2020): jitter (0.4, 0.4, 0.2, 0.1) p=0.8, gray 0.2;
    view 1 blur p=1.0, view 2 blur p=0.1 and solarize p=0.2."""
    colour = {"jitter": (0.4, 0.4, 0.2, 0.1), "jitter_p": 0.8, "grayscale_p": 0.2}
    return (ViewSpec(size, scale=scale, **colour, **_blur(size, 1.0)),
            ViewSpec(size, scale=scale, **colour, **_blur(size, 0.1), solarize_p=0.2))


@RECIPES.add("byol")
def byol(size: int) -> ViewRecipe:
    return ViewRecipe("byol", _byol_pair(size, (0.08, 1.0)))


@RECIPES.add("dino")
def dino(size: int, *, n_local: int = 8, local_size: int | None = None) -> ViewRecipe:
    """DINO multi-crop (Caron et al. 2021): BYOL's pair as 2 global crops (0.32, 1) + `n_local` local
    crops (0.05, 0.32) at `local_size` (default size * 3/7, i.e. 96 px at 224) with blur p=0.5."""
    local_size = local_size or round(size * 3 / 7)
    local = ViewSpec(local_size, scale=(0.05, 0.32), jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8,
                     grayscale_p=0.2, **_blur(local_size, 0.5), count=n_local)
    return ViewRecipe("dino", (*_byol_pair(size, (0.32, 1.0)), *((local,) if n_local else ())))


@RECIPES.add("mae")
def mae(size: int) -> ViewRecipe:
    """MAE (He et al. 2022): one view, crop (0.2, 1) + flip; masking is `ops.random_mask`."""
    return ViewRecipe("mae", (ViewSpec(size, scale=(0.2, 1.0)),))


@RECIPES.add("distill")
def distill(size: int) -> ViewRecipe:
    """Distillation: one light view shared by teacher and student, crop (0.2, 1), flip, mild jitter."""
    return ViewRecipe("distill", (ViewSpec(size, scale=(0.2, 1.0), jitter=(0.2, 0.2, 0.2, 0.05), jitter_p=0.5),))


@RECIPES.add("plain")
def plain(size: int) -> ViewRecipe:
    """Evaluation and embedding: the whole image resized to `size`, as float in [0, 1]."""
    return ViewRecipe("plain", (ViewSpec(size, scale=None, flip_p=0.0),))


def recipe(name: str, size: int, **kwargs) -> ViewRecipe:
    """The named recipe at `size`; an unknown name lists the valid ones."""
    return RECIPES.get(name)(size, **kwargs)


@RECIPES.add("supervised")
def supervised(size: int, *, scale: Range = (0.8, 1.0)) -> ViewRecipe:
    """Fine-tuning on few labels: one light view, flip + a mild random-resized crop (zoom and shift),
    the usual augmentation for small labeled sets (e.g. CIFAR's flip + shift); no colour changes.
    On 600 Fashion-MNIST labels from scratch, crops of (0.8, 1) beat (0.6, 1) by ~1 point."""
    return ViewRecipe("supervised", (ViewSpec(size, scale=scale, ratio=(0.8, 1.25), flip_p=0.5),))
