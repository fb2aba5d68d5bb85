"""`ultralytics/<model>.yaml`: a YOLO or RT-DETR detector's backbone built from its yaml (optional extra)."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml

from headstart.adapt.heads.features import Pyramid, group_modules
from headstart.cli.main import main
from headstart.errors import HeadstartError
from headstart.models import ultralytics_
from headstart.models.factory import create_backbone
from headstart.models.family import check_model_name

pytestmark = pytest.mark.skipif(ultralytics_.package_dir() is None, reason="the yolo extra (Ultralytics) is not installed")


@pytest.fixture(scope="module")
def yolov8n():
    return create_backbone("ultralytics/yolov8n.yaml").eval()


def images(fmnist, size: int) -> torch.Tensor:
    x = fmnist.images[:4].float().div(255)  # (4, 1, 28, 28) real images
    return torch.nn.functional.interpolate(x, size=size)


def test_yolov8n__pooled_features_are_the_last_map_averaged(yolov8n, fmnist_test):
    x = images(fmnist_test, 64)
    with torch.no_grad():
        feats, spatial = yolov8n(x), yolov8n.forward_features(x)
        assert torch.equal(yolov8n(x.expand(-1, 3, -1, -1)), feats)  # 1 channel is expanded to 3
    assert feats.shape == (4, 256) and yolov8n.feature_dim == 256
    assert spatial.shape == (4, 256, 2, 2)  # stride 32: the SPPF output
    assert torch.allclose(feats, spatial.mean((2, 3)))
    assert torch.isfinite(feats).all() and feats.std() > 0


def test_yolov8n__layer_groups_are_stages_and_the_pyramid_is_p3_p4_p5(yolov8n, fmnist_test):
    assert yolov8n.module.stages == [[0], [1, 2], [3, 4], [5, 6], [7, 8, 9]]  # a stage per downsampling
    groups = yolov8n.layer_groups()
    assert sum(len(g) for g in groups) == len(list(yolov8n.module.parameters())) and len(groups) == 5
    pyramid = Pyramid(yolov8n, 64)
    assert pyramid.strides == [8, 16, 32] and pyramid.channels == [64, 128, 256]
    with torch.no_grad():
        maps = pyramid(images(fmnist_test, 64))
    assert [tuple(m.shape) for m in maps] == [(4, 64, 8, 8), (4, 128, 4, 4), (4, 256, 2, 2)]


def test_yolov8n__tensors_are_the_detectors_backbone_by_name(yolov8n):
    detector = ultralytics_.detection_model("yolov8n.yaml").state_dict()
    ours = yolov8n.module.state_dict()
    assert all(detector[f"model.{k}"].shape == v.shape for k, v in ours.items())
    rest = {int(k.split(".")[1]) for k in detector if k.removeprefix("model.") not in ours}
    assert min(rest) >= 10 and max(rest) == 22  # the neck and the head (layers 10-22) stay in the detector


@pytest.mark.parametrize(("name", "stages"), [
    ("rtdetr-l.yaml", [[0, 1], [2, 3], [4, 5, 6, 7], [8, 9]]),  # HGStem, then a DWConv opens each stage
    ("rtdetr-resnet50.yaml", [[0, 1], [2], [3], [4]]),  # a ResNetLayer per stage, the first with the stem
])
def test_rtdetr__pooled_features_and_the_p3_p4_p5_maps_the_yaml_neck_takes(name, stages, fmnist_test):
    b = create_backbone(f"ultralytics/{name}").eval()
    x = images(fmnist_test, 64)
    with torch.no_grad():
        feats, spatial = b(x), b.forward_features(x)
    assert feats.shape == (4, 2048) and spatial.shape == (4, 2048, 2, 2) and b.feature_dim == 2048
    assert torch.allclose(feats, spatial.mean((2, 3))) and feats.std() > 0
    assert b.module.stages == stages
    pyramid = Pyramid(b, 64)
    assert pyramid.strides == [8, 16, 32] and pyramid.channels == [512, 1024, 2048]
    with torch.no_grad():
        maps = pyramid(x)
    assert [tuple(m.shape) for m in maps] == [(4, 512, 8, 8), (4, 1024, 4, 4), (4, 2048, 2, 2)]
    spec = yaml.safe_load(ultralytics_.builtin_yamls()[name].read_text())
    n = len(spec["backbone"])
    taken = sorted({f for f, *_ in spec["head"] if isinstance(f, int) and 0 <= f < n} | {n - 1})  # + P5
    picked = [group_modules(b)[i] for i in pyramid.picked]
    assert picked == [b.module[i] for i in taken]  # the dense heads see what RT-DETR's own encoder sees


def test_rtdetr__the_detector_is_ultralytics_rtdetr_model_with_the_backbone_by_name():
    detector = ultralytics_.detection_model("rtdetr-l.yaml")
    assert type(detector).__name__ == "RTDETRDetectionModel"
    assert type(detector.model[-1]).__name__ == "RTDETRDecoder"
    ours = ultralytics_.create("rtdetr-l.yaml").module.state_dict()
    state = detector.state_dict()
    assert all(state[f"model.{k}"].shape == v.shape for k, v in ours.items())
    rest = {int(k.split(".")[1]) for k in state if k.removeprefix("model.") not in ours}
    assert min(rest) == 10 and max(rest) == 28  # the encoder (from its input_proj.2) and the decoder


@pytest.mark.parametrize(("name", "dim"), [("yolo11n.yaml", 256), ("yolov9t.yaml", 128),
                                           ("yolov8n-rtdetr.yaml", 256)])  # YOLOv8's backbone, RT-DETR's head
def test_family__other_yamls_build(name, dim):
    b = create_backbone(f"ultralytics/{name}").eval()
    with torch.no_grad():
        assert b(torch.rand(2, 1, 32, 32)).shape == (2, dim)


def test_family__names_scale_each_yaml_and_list_only_detectors():
    names = ultralytics_.UltralyticsFamily().names()
    assert {"yolov8n.yaml", "yolov8x.yaml", "yolo11n.yaml", "yolov8n-p2.yaml", "yolov10n.yaml"} <= set(names)
    assert {"rtdetr-l.yaml", "rtdetr-x.yaml", "rtdetr-resnet50.yaml", "rtdetr-resnet101.yaml",
            "yolov8n-rtdetr.yaml"} <= set(names)  # a yaml of one scale keeps its name: no rtdetr-resnet50l
    assert not any(("seg" in n or "pose" in n or "cls" in n or "resnet50l" in n) for n in names)


def test_list_models__the_family_lists_rtdetr(capsys):
    assert main(["list-models", "--family", "ultralytics", "--filter", "rtdetr-"]) == 0
    out = capsys.readouterr().out
    assert "ultralytics/rtdetr-l.yaml" in out and "ultralytics/rtdetr-resnet50.yaml" in out


@pytest.mark.parametrize(("yaml_name", "dim"), [("yolov8n.yaml", 256), ("rtdetr-l.yaml", 2048)])
def test_family__a_local_yaml_builds(yaml_name, dim, tmp_path):
    local = tmp_path / f"my-{yaml_name}"
    shutil.copy(ultralytics_.builtin_yamls()[yaml_name], local)
    assert check_model_name(f"ultralytics:{local}") == f"ultralytics:{local}"
    b = create_backbone(f"ultralytics:{local}")
    assert b.meta.name == f"ultralytics:{local}" and b.feature_dim == dim


@pytest.mark.parametrize(("name", "message"), [
    ("ultralytics/yolov8q.yaml", "did you mean 'ultralytics/yolov8"),
    ("ultralytics:/no/such/model.yaml", "model yaml not found: /no/such/model.yaml"),
])
def test_check__error_names_the_fix(name, message):
    with pytest.raises(HeadstartError, match=message):
        check_model_name(name)


def test_check__error_a_yaml_that_is_not_a_detector(tmp_path):
    local = tmp_path / "cls.yaml"
    local.write_text("nc: 10\nbackbone:\n  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n  - [-1, 1, Classify, [10]]\n")
    with pytest.raises(HeadstartError, match="not an Ultralytics detection yaml"):
        check_model_name(f"ultralytics:{local}")


def test_create__the_probe_leaves_batchnorm_statistics_as_initialised():
    detector = ultralytics_.detection_model("yolov8n.yaml")
    b = ultralytics_.create("yolov8n.yaml")
    assert b.module.training
    stats = {k: v for k, v in b.module.state_dict().items() if "running_" in k}
    fresh = detector.state_dict()  # running means 0, variances 1
    assert all(torch.equal(v, fresh[f"model.{k}"]) for k, v in stats.items())


def test_importing_ultralytics_leaves_pil_and_the_environment_alone(tmp_path, monkeypatch):
    """Ultralytics wraps PIL's Image.open on import (a failed open then pip-installs pi-heif) and sets
    OMP_NUM_THREADS=1; after headstart builds a YOLO model a bad image is still a bad image."""
    import os
    import sys

    from PIL import Image

    from headstart.data.decode import BadImage, decode_image

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if "ultralytics.utils.patches" in sys.modules:  # imported by another test: undo its patch first
        monkeypatch.setattr(Image, "open", sys.modules["ultralytics.utils.patches"]._image_open)
    for name in [m for m in sys.modules if m == "ultralytics" or m.startswith("ultralytics.")]:
        monkeypatch.delitem(sys.modules, name)  # import it afresh, as a new process would
    before = Image.open
    create_backbone("ultralytics/yolov8n.yaml")
    assert Image.open is before and "OMP_NUM_THREADS" not in os.environ
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(BadImage):
        decode_image(tmp_path / "bad.png", 28, 1)
