"""Views: seeded, batched augmentations checked against references on real Fashion-MNIST images."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from headstart.data.idx import open_idx
from headstart.data.views import (
    RECIPES,
    ViewRecipe,
    ViewSpec,
    color_jitter,
    crop_theta,
    gaussian_blur,
    ops,
    random_grayscale,
    random_mask,
    random_resized_crop,
    recipe,
    solarize,
    to_float,
)
from headstart.errors import HeadstartError

F32 = torch.float32


@pytest.fixture(scope="module")
def fmnist() -> torch.Tensor:
    """32 real Fashion-MNIST test images, uint8 (32, 1, 28, 28)."""
    return open_idx("fashion-mnist", "test").__getitems__(list(range(32)))[0]


@pytest.fixture(scope="module")
def rgb(fmnist) -> torch.Tensor:
    """Real colour-ish images: three different Fashion-MNIST images as R, G, B, at 48 px. (16, 3, 48, 48)."""
    x = torch.cat([fmnist[:16], fmnist[8:24], fmnist[16:32]], 1).float()
    return F.interpolate(x, size=(48, 48), mode="bilinear", antialias=True).round().to(torch.uint8)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_recipe__same_seed_same_views_other_seed_other_views(rgb):
    r = recipe("simclr", 48)
    a, b, c = r(rgb, gen(3)), r(rgb, gen(3)), r(rgb, gen(4))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert all((u - v).abs().mean() > 0.01 for u, v in zip(a, c))


def test_crop__samples_get_different_crops(fmnist):
    same = fmnist[:1].expand(16, -1, -1, -1)  # one image 16 times
    out = random_resized_crop(same, 28, gen=gen(), dtype=F32)
    diffs = (out[1:] - out[:1]).abs().flatten(1).mean(1)
    assert (diffs > 1e-3).all()
    theta = crop_theta(16, (28, 28), gen=gen())
    assert len(torch.unique(theta[:, 0, 2])) == 16


def test_crop__area_and_aspect_within_ranges():
    theta = crop_theta(4000, (64, 64), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), gen=gen())
    sx, sy = theta[:, 0, 0].abs(), theta[:, 1, 1]
    area, aspect = sx * sy, sx / sy
    assert area.min() >= 0.08 - 1e-5 and area.max() <= 1 + 1e-5
    assert aspect.min() >= 3 / 4 - 1e-4 and aspect.max() <= 4 / 3 + 1e-4
    assert (theta[:, :, 2].abs() <= 1 - torch.stack([sx, sy], 1) + 1e-5).all()  # crop inside the image
    assert 0.45 < (theta[:, 0, 0] < 0).float().mean() < 0.55  # flips half the time
    assert 0.45 < area.mean() < 0.6  # U(0.08, 1) areas, large ones rejected when the aspect does not fit


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 2 / 255)])
def test_crop__full_image_flip_mirrors(fmnist, dtype, tol):
    kw = {"scale": (1.0, 1.0), "ratio": (1.0, 1.0), "gen": gen(), "dtype": dtype}
    flipped = random_resized_crop(fmnist, 28, flip_p=1.0, **kw)
    kept = random_resized_crop(fmnist, 28, flip_p=0.0, **kw)
    assert (flipped - fmnist.flip(-1) / 255).abs().max() <= tol
    assert (kept - fmnist / 255).abs().max() <= tol


def test_crop__matches_grid_sample_of_theta(rgb):
    theta = crop_theta(len(rgb), (48, 48), gen=gen(1))
    rows, cols = ops.theta_taps(theta, (32, 32), (48, 48))
    ours = ops.resample(rgb.float(), rows.dense(48), cols.dense(48))
    grid = F.affine_grid(theta, (len(rgb), 3, 32, 32), align_corners=False)
    ref = F.grid_sample(rgb.float(), grid, padding_mode="border", align_corners=False)
    assert (ours - ref).abs().max() < 1e-3  # in 0..255 units


def test_crop__ramp_lands_where_theta_says():
    x = (torch.arange(64) * 4).to(torch.uint8).expand(8, 1, 64, 64)  # value = 4 * column
    g = gen(2)
    out = random_resized_crop(x, 16, scale=(0.1, 0.5), gen=g, dtype=F32)
    theta = crop_theta(8, (64, 64), scale=(0.1, 0.5), gen=gen(2))
    centres = (2 * torch.arange(16) + 1) / 16 - 1
    column = ((theta[:, 0, 0, None] * centres + theta[:, 0, 2, None] + 1) * 64 - 1) / 2  # (B, 16)
    assert torch.allclose(out[:, 0, 5] * 255 / 4, column, atol=1e-3)


def test_grayscale__channels_equal_luma(rgb):
    out = random_grayscale(rgb, p=1.0, gen=gen())
    luma = (rgb.float() / 255 * torch.tensor(ops.LUMA).view(1, 3, 1, 1)).sum(1)
    assert torch.allclose(out[:, 0], luma, atol=1e-5) and torch.equal(out[:, 0], out[:, 2])
    assert torch.allclose(random_grayscale(rgb, p=0.0, gen=gen()), rgb / 255)


def test_grayscale__noop_on_one_channel(fmnist):
    assert torch.allclose(random_grayscale(fmnist, p=1.0, gen=gen()), fmnist / 255)


def test_solarize__inverts_above_threshold(fmnist):
    x = fmnist / 255
    out = solarize(fmnist, 0.5, p=1.0, gen=gen())
    assert torch.allclose(out, torch.where(x >= 0.5, 1 - x, x), atol=1e-6)
    assert (out <= 0.5 + 1e-6).all() and torch.allclose(solarize(fmnist, p=0.0, gen=gen()), x, atol=1e-6)


def _high_freq_energy(x: torch.Tensor) -> torch.Tensor:
    spec = torch.fft.fft2(x - x.mean((-2, -1), keepdim=True)).abs() ** 2  # (B, C, H, W)
    f = torch.fft.fftfreq(x.shape[-1]).abs()
    return (spec * ((f[:, None] > 0.2) | (f[None, :] > 0.2))).sum((1, 2, 3))


def test_blur__reduces_high_frequencies(rgb):
    blurred = gaussian_blur(rgb, (1.0, 2.0), p=1.0, gen=gen(), dtype=F32)
    ratio = _high_freq_energy(blurred) / _high_freq_energy(rgb / 255)
    assert (ratio < 0.5).all()
    assert torch.allclose(gaussian_blur(rgb, p=0.0, gen=gen(), dtype=F32), rgb / 255, atol=1e-6)


def test_blur__matches_torchvision_reflect_blur(rgb):
    ours = gaussian_blur(rgb, (1.3, 1.3), p=1.0, gen=gen(), dtype=F32)
    k = ops.blur_kernel_size(48)
    ref = TF.gaussian_blur(rgb.float() / 255, [k, k], [1.3, 1.3])
    assert (ours - ref).abs().max() < 1e-5


def test_jitter__matches_torchvision_without_hue(rgb):
    x = (rgb // 2 + 64).float() / 255  # values in [0.25, 0.75]: no clamping either way
    out = color_jitter(x, 0.2, 0.2, 0.3, 0.0, p=1.0, gen=gen(5))
    f = ops.jitter_factors(len(x), 0.2, 0.2, 0.3, 0.0, p=1.0, gen=gen(5), device=x.device)
    for i in range(4):
        ref = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x[i], f[i, 0]), f[i, 1]), f[i, 2])
        assert (out[i] - ref).abs().max() < 1e-4  # torchvision's luma has 0.2989 for 0.299
    assert len(torch.unique(f[:, 0])) == len(x)  # per-sample factors


def test_jitter__hue_keeps_luma_and_changes_colour(rgb):
    x = (rgb // 4 + 96).float() / 255  # values in [0.38, 0.63]: a quarter-turn hue rotation is not clamped
    out = color_jitter(x, 0.0, 0.0, 0.0, 0.25, p=1.0, gen=gen())
    w = torch.tensor(ops.LUMA).view(1, 3, 1, 1)
    assert torch.allclose((out * w).sum(1), (x * w).sum(1), atol=1e-4)
    assert (out - x).abs().mean() > 0.01


def test_jitter__one_channel_only_brightness_contrast(fmnist):
    assert torch.allclose(color_jitter(fmnist, 0.0, 0.0, 0.9, 0.5, p=1.0, gen=gen()), fmnist / 255)
    out = color_jitter(fmnist, 0.4, 0.0, 0.0, 0.0, p=1.0, gen=gen())
    scale = out.sum((1, 2, 3)) / (fmnist / 255).sum((1, 2, 3))
    assert scale.min() >= 0.6 - 1e-5 and scale.max() <= 1.4 + 1e-5 and scale.std() > 0.05


def test_recipe__equals_the_sequence_of_ops(rgb):
    """The fused view (one resample, one colour matmul) equals the ops applied one by one."""
    x = rgb // 2 + 64
    spec = ViewSpec(32, scale=(0.3, 1.0), jitter=(0.1, 0.1, 0.1, 0.05), jitter_p=0.8, grayscale_p=0.3,
                    blur_p=0.5, blur_sigma=(0.3, 1.0), solarize_p=0.5)
    fused = ViewRecipe("test", (spec,), dtype=F32)(x, gen(1))[0]
    g = gen(1)
    y = random_resized_crop(x, 32, scale=(0.3, 1.0), gen=g, dtype=F32)
    y = color_jitter(y, 0.1, 0.1, 0.1, 0.05, p=0.8, gen=g)
    y = random_grayscale(y, p=0.3, gen=g)
    y = solarize(gaussian_blur(y, (0.3, 1.0), p=0.5, gen=g, dtype=F32), p=0.5, gen=g)
    assert (fused - y).abs().max() < 1e-3


def test_recipe__bf16_close_to_float32(rgb):
    views = [ViewRecipe("t", recipe("byol", 48).views, dtype=d)(rgb, gen()) for d in (torch.bfloat16, F32)]
    assert max((a - b).abs().max().item() for a, b in zip(*views)) <= 3 / 255


@pytest.mark.parametrize("name,size,sizes", [
    ("simclr", 28, [28, 28]), ("moco", 48, [48, 48]), ("byol", 48, [48, 48]), ("mae", 28, [28]),
    ("distill", 28, [28]), ("plain", 32, [32]), ("dino", 28, [28, 28] + [12] * 8),
])
def test_recipes__number_and_sizes_of_views(fmnist, name, size, sizes):
    views = recipe(name, size)(fmnist, gen())
    assert [v.shape[-1] for v in views] == sizes and [v.shape[-2] for v in views] == sizes
    assert all(v.dtype == F32 and v.shape[:2] == (32, 1) and 0 <= v.min() and v.max() <= 1 for v in views)


def test_recipes__blur_off_at_small_sizes_and_dino_options():
    assert recipe("simclr", 32).views[0].blur_p == 0 and recipe("simclr", 64).views[0].blur_p == 0.5
    assert [v.blur_p for v in recipe("byol", 96).views] == [1.0, 0.1]
    assert recipe("dino", 64, n_local=2, local_size=24).sizes == [64, 64, 24, 24]
    assert set(RECIPES.names()) >= {"simclr", "moco", "byol", "dino", "mae", "distill", "plain"}
    with pytest.raises(HeadstartError, match="valid: "):
        recipe("simclear", 32)


def test_recipe__channels_last(rgb):
    r = ViewRecipe("t", recipe("simclr", 32).views, channels_last=True)
    assert all(v.is_contiguous(memory_format=torch.channels_last) for v in r(rgb, gen()))


def test_plain_and_to_float__real_batch(fmnist):
    assert torch.equal(recipe("plain", 28)(fmnist, gen())[0], fmnist / 255)
    big = to_float(fmnist, 56)
    assert big.shape == (32, 1, 56, 56) and abs(big.mean() - fmnist.float().mean() / 255) < 2e-3


def test_simclr__real_fashion_mnist_batch(fmnist):
    a, b = recipe("simclr", 28)(fmnist, gen())
    assert a.shape == b.shape == (32, 1, 28, 28)
    assert (a - b).abs().flatten(1).mean(1).min() > 0.01  # the two views differ for every image
    assert abs(a.mean() - fmnist.float().mean() / 255) < 0.1  # still the same kind of image


def test_random_mask__keeps_exact_count():
    m = random_mask(49, 0.75, batch=16, gen=gen())
    keep = int(49 * 0.25)
    assert m.keep.shape == (16, keep) and (m.mask.sum(1) == 49 - keep).all()
    assert not m.mask.gather(1, m.keep).any()  # kept patches are unmasked
    assert len({tuple(k.tolist()) for k in m.keep}) == 16  # different per sample
    assert torch.equal(m.restore.argsort(1)[:, :keep], m.keep)
    assert math.isclose(m.mask.float().mean().item(), 1 - keep / 49, rel_tol=1e-6)


def test_errors__bad_input_and_ratio(fmnist):
    with pytest.raises(HeadstartError, match="C = 1 or 3"):
        random_resized_crop(fmnist.expand(-1, 2, -1, -1), 16, gen=gen())
    with pytest.raises(HeadstartError, match="mask ratio"):
        random_mask(16, 1.0, batch=2, gen=gen())


@pytest.mark.gpu
def test_recipe__cuda_matches_cpu_with_the_same_generator(rgb):
    """Opt-in (`pytest -m gpu`): the same CPU generator gives the same views on CUDA as on CPU."""
    r = ViewRecipe("t", recipe("dino", 48, n_local=2).views, dtype=F32)
    on_cpu = r(rgb, gen(7))
    on_cuda = r(rgb.cuda(), gen(7))
    assert all((a - b.cpu()).abs().max() < 1e-4 for a, b in zip(on_cpu, on_cuda))
    cuda_gen = torch.Generator(device="cuda")
    first = recipe("simclr", 48)(rgb.cuda(), cuda_gen.manual_seed(1))
    again = recipe("simclr", 48)(rgb.cuda(), cuda_gen.manual_seed(1))
    assert all(torch.equal(a, b) and a.device.type == "cuda" for a, b in zip(first, again))
    m = random_mask(49, 0.75, batch=4, gen=cuda_gen, device="cuda")
    assert (m.mask.sum(1) == 49 - 12).all()


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipes__every_registered_recipe_makes_float_views_in_range(fmnist, name):
    """The shared table: a recipe added to `RECIPES` is tested here by being added."""
    r = recipe(name, 28)
    views = r(fmnist, gen())
    assert len(views) == len(r.sizes) >= 1
    assert [v.shape[-1] for v in views] == r.sizes
    assert all(v.dtype == F32 and v.shape[:2] == (32, 1) and 0 <= v.min() and v.max() <= 1 for v in views)
    assert not torch.equal(views[0], r(fmnist, gen(1))[0]) or name in ("plain",)  # seeded, not constant
