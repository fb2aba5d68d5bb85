from __future__ import annotations

import pytest
import torch

from headstart.adapt.dense_model import DenseModel, load_dense, run_task, save_dense
from headstart.adapt.heads.features import Pyramid
from headstart.models.factory import create_backbone
from headstart.run import Run


@pytest.mark.parametrize(("name", "size", "strides", "channels"), [
    ("headstart/resnet-mini", 64, [4, 8], [128, 256]),
    ("headstart/vit-tiny", 32, [2, 4, 8], [192, 192, 192]),
])
def test_pyramid__maps_at_the_backbone_strides(name, size, strides, channels):
    backbone = create_backbone(name, image_size=size)
    pyramid = Pyramid(backbone, size)
    assert pyramid.strides == strides and pyramid.channels == channels
    maps = pyramid(torch.rand(2, 1, size, size))
    assert [m.shape[1:] for m in maps] == [(c, size // s, size // s) for c, s in zip(channels, strides, strict=True)]


def test_detect_head__losses_train_the_backbone_and_eval_gives_boxes_in_the_image():
    torch.manual_seed(0)
    model = DenseModel(create_backbone("headstart/resnet-mini", image_size=48), "detect", ["a", "b"], 48)
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 30.0, 28.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]  # background image
    losses = model(torch.rand(2, 1, 48, 48), targets)
    assert set(losses) == {"classification", "bbox_regression", "bbox_ctrness"}
    sum(losses.values()).backward()
    assert model.backbone.module.stem[0].weight.grad.abs().sum() > 0
    out = model.eval()(torch.rand(3, 1, 48, 48))
    assert len(out) == 3 and all(((d["boxes"] >= 0) & (d["boxes"] <= 48)).all() for d in out)


def test_segment_head__logits_at_the_input_size():
    model = DenseModel(create_backbone("headstart/resnet-mini", image_size=48), "segment", ["bg", "x", "y"], 48)
    assert model(torch.rand(2, 1, 48, 48)).shape == (2, 3, 48, 48)


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_save_dense__loads_back_to_the_same_outputs(tmp_path, task):
    torch.manual_seed(0)
    model = DenseModel(create_backbone("headstart/resnet-mini", image_size=48), task, ["a", "b"], 48).eval()
    run = Run(tmp_path)
    save_dense(model, run)
    assert run_task(run) == task
    again = load_dense(run)
    assert again.classes == ["a", "b"] and again.strides == model.strides
    if task == "detect":
        assert again.head.box_activation == "softplus"  # the default, written and read back
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        if task == "segment":
            assert torch.allclose(model(x), again(x), atol=1e-5)
        else:
            assert all(torch.allclose(p["scores"], q["scores"], atol=1e-5) for p, q in zip(model(x), again(x), strict=True))


@pytest.mark.parametrize(("activation", "alive"), [("softplus", True), ("relu", False)])
def test_detect_head__box_offsets_negative_everywhere_get_a_gradient_only_through_softplus(activation, alive):
    """torchvision's ReLU alone: a box conv whose outputs are all negative never learns again (the
    dead regressor of 2 of 20 Lite0 cells); the softplus in front keeps a gradient there."""
    torch.manual_seed(0)
    model = DenseModel(create_backbone("headstart/resnet-mini", image_size=48), "detect", ["a", "b"], 48,
                       box_activation=activation)
    conv = model.head.fcos.head.regression_head.bbox_reg
    with torch.no_grad():
        conv.bias.fill_(-5.0)
    losses = model(torch.rand(2, 1, 48, 48), [{"boxes": torch.tensor([[4.0, 6.0, 30.0, 28.0]]),
                                               "labels": torch.tensor([1])}] * 2)
    losses["bbox_regression"].backward()
    assert (conv.weight.grad.abs().sum() > 0) == alive


def test_load_dense__a_detector_saved_without_box_activation_keeps_torchvisions_relu(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = DenseModel(create_backbone("headstart/resnet-mini", image_size=48), "detect", ["a", "b"], 48,
                       box_activation="relu").eval()
    run = Run(tmp_path)
    save_dense(model, run)
    assert load_dense(run).head.box_activation == "relu"
    with safe_open(str(run.model_file), framework="pt") as f:
        meta = {k: v for k, v in f.metadata().items() if k != "box_activation"}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    save_file(state, str(run.model_file), metadata=meta)  # as written before the key existed
    old = load_dense(run)
    assert old.head.box_activation == "relu"
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        assert all(torch.allclose(p["boxes"], q["boxes"], atol=1e-4) for p, q in zip(model(x), old(x), strict=True))
