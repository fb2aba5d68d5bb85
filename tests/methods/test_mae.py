"""MAE on the built-in ViT with real Fashion-MNIST: masking counts, visible-only encoding, a
decreasing loss, the reconstruction figure, the non-ViT error, and the exported plain ViT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from method_helpers import build, fashion_train, fit, fixed_views
from PIL import Image

from headstart.data.views.ops import to_float
from headstart.errors import HeadstartError
from headstart.export.weights import save_backbone
from headstart.methods.mae import HIDDEN_RGB, MAE, masked_patch_loss
from headstart.methods.mae.vit import patchify, unpatchify
from headstart.models.factory import create_backbone

VIT = "headstart/vit-tiny"


def mae(**kw) -> MAE:
    return build("mae", model=VIT, **kw)


@pytest.mark.parametrize(("size", "patches", "hidden"), [(28, 49, 37), (32, 64, 48)])
def test_mask__hides_the_right_number_of_patches_per_sample(size, patches, hidden):
    method = mae()  # built for 28 px; 32 px input gives an 8x8 grid (positions resampled)
    x = to_float(fashion_train(16).images, size)
    pred, target, mask, grid = method.reconstruct(x, torch.Generator().manual_seed(0))
    assert grid == (size // 4, size // 4) and mask.shape == (16, patches)
    assert mask.sum(1).tolist() == [hidden] * 16  # int(N * 0.25) visible, the rest hidden
    assert len({tuple(row.nonzero().flatten().tolist()) for row in mask}) == 16  # a different mask per image
    assert pred.shape == target.shape == (16, patches, 4 * 4 * 3)  # each patch's pixels, 3 model channels
    assert torch.equal(unpatchify(target, 4, grid), method.backbone.prepare(x))


def test_encoder__sees_only_the_visible_tokens():
    method = mae(mask_ratio=0.75)
    seen = []
    hook = method.vit.blocks[0].register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape)))
    method.loss(fixed_views(method, fashion_train(8).images))
    hook.remove()
    assert seen == [(8, 1 + 12, 192)]  # class token + 12 of 49 patches, not 1 + 49


def test_patchify__round_trips():
    x = torch.rand(2, 3, 28, 32)
    p = patchify(x, 4)
    assert p.shape == (2, 7 * 8, 48)
    assert torch.equal(unpatchify(p, 4, (7, 8)), x)


def test_loss__counts_hidden_patches_only():
    target = torch.randn(4, 49, 48)
    mask = torch.rand(4, 49) < 0.75
    pred = torch.randn(4, 49, 48)
    changed = torch.where(mask[..., None], pred, pred + 10)  # differs on visible patches only
    assert masked_patch_loss(pred, target, mask) == masked_patch_loss(changed, target, mask)
    assert masked_patch_loss(pred, target, mask) != masked_patch_loss(pred + mask[..., None], target, mask)


def loss_with_masks(method: MAE, views: list[torch.Tensor], *, seed: int) -> float:
    method._gen = torch.Generator().manual_seed(seed)  # the masks come from the method's generator
    return method.loss(views)[0].item()


def test_loss__decreases_on_a_fixed_real_batch():
    method = mae()
    views = fixed_views(method, fashion_train(16).images)
    with torch.no_grad():
        before = loss_with_masks(method, views, seed=1)
    opt = torch.optim.AdamW([p for m in method.param_groups() for p in m.parameters()], lr=1e-3)
    losses = []
    for _ in range(15):
        loss, _ = method.loss(views)  # new masks every step, same images
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        after = loss_with_masks(method, views, seed=1)  # the same masks as `before`
    assert after < 0.6 * before, (before, after)
    assert np.mean(losses[-3:]) < 0.97 * np.mean(losses[3:6]), losses  # still learning past the first drop


def test_training__writes_reconstructions_and_exports_a_plain_vit(tmp_path):
    method = mae(steps=2, batch_size=16)
    fit(method, fashion_train(32), tmp_path / "run", steps=2, batch_size=16, accumulate=1)
    png = np.asarray(Image.open(tmp_path / "run" / "reconstructions.png"))
    assert png.shape == (3 * 98 + 2, 8 * 98 + 2, 3)  # 3 rows x 8 images of 96 px + 2 px gaps
    rows = [png[2 + r * 98: 98 + r * 98, 2:-2] for r in range(3)]
    hidden = (np.abs(rows[1].astype(int) - np.round(np.array(HIDDEN_RGB) * 255)).max(-1) <= 1).mean()
    assert 0.7 < hidden < 0.8  # 37 of 49 patches hidden ~ 0.755 of the masked row
    assert (np.ptp(rows[0], axis=-1) == 0).all()  # originals are grey-scale, as the data
    original = to_float(fashion_train(8).images)[:, 0]
    first = torch.tensor(rows[0][:96, :96, 0]).float() / 255  # image 0, 28 px shown at 96 px (nearest)
    idx = torch.arange(96) * 28 // 96
    assert (first - original[0][idx][:, idx]).abs().max() < 1 / 255 + 1e-6

    path = tmp_path / "backbone.safetensors"
    save_backbone(method.backbone, path, VIT)
    plain = create_backbone(VIT, weights=path, image_size=28).eval()
    x = to_float(fashion_train(8).images)
    method.backbone.eval()
    with torch.no_grad():
        assert torch.allclose(plain(x), method.backbone(x), atol=1e-5)  # the whole image, no masking
        assert plain(x).shape == (8, 192) and plain.forward_features(x).shape == (8, 50, 192)


def test_non_vit__error_names_the_vit_models():
    with pytest.raises(HeadstartError, match="vit-tiny"):
        build("mae", model="headstart/resnet-mini")
