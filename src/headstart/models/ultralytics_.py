"""Adapter for `ultralytics/<model>.yaml`: the backbone of a YOLO or RT-DETR detector, built from its yaml.

Ultralytics is AGPL-3.0, so it is an optional extra (`pip install "headstart[yolo]"`), imported
only once such a model is built; the core stays Apache-2.0. Nothing is downloaded: the model is
built from the yaml that ships with the package (`yolov8n.yaml`, `yolo11n.yaml`, `rtdetr-l.yaml`,
...) or from a local one (`ultralytics:./my-yolo.yaml`), and `YOLO_OFFLINE` is set unless the user set it.
The yaml's last head picks the Ultralytics class: `DetectionModel` for `Detect`, `RTDETRDetectionModel`
for RT-DETR's transformer decoder (`rtdetr-l.yaml`, `rtdetr-resnet50.yaml`, `yolov8n-rtdetr.yaml`).

The backbone is the yaml's `backbone:` layers (up to SPPF / C2PSA / SPPELAN, RT-DETR's last HGBlock or
ResNetLayer) with Ultralytics' own numbering, so its `0.conv.weight` is the detector's `model.0.conv.weight`
and an export puts them back by name (`export/ultralytics.py`). Its layer groups are the stages between
downsamplings; the last map of each is what `adapt/heads/features.py` picks for dense heads
(P3/P4/P5, strides 8/16/32: the very maps the yaml's own neck takes). Input: RGB in [0, 1], no mean/std
(Ultralytics' own policy).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

import torch
import yaml
from torch import nn

from headstart.errors import HeadstartError, did_you_mean
from headstart.models.backbone import Backbone, BackboneMeta

INSTALL = 'pip install "headstart[yolo]" (Ultralytics, AGPL-3.0)'
# the last head of a detection yaml -> the Ultralytics class that builds (and trains) the detector
DETECT_HEADS = {"Detect": "DetectionModel", "v10Detect": "DetectionModel",
                "RTDETRDecoder": "RTDETRDetectionModel"}
PROBE_SIZE = 64  # side of the zero image that finds the stages and the feature width


class YoloBackbone(nn.Sequential):
    """The yaml's backbone layers, numbered as in the detector; `stages` lists layer indices per stage."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__(*layers)
        was = self.training
        with torch.no_grad():
            self.eval()  # the probe leaves BatchNorm's running statistics alone
            shapes = [tuple(y.shape) for y in self._maps(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE))]
        self.train(was)
        self.num_features = shapes[-1][1]
        self.stages: list[list[int]] = []
        for i, shape in enumerate(shapes):  # a new stage at each drop in resolution
            if i == 0 or shape[-1] < shapes[i - 1][-1]:
                self.stages.append([])
            self.stages[-1].append(i)

    def _maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for layer in self:
            x = layer(x)
            out.append(x)
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)  # (B, C, H/32, W/32) for P5 backbones

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x).mean((2, 3))  # (B, C)


class UltralyticsFamily:
    def names(self) -> list[str]:
        return sorted(builtin_yamls()) if package_dir() else []

    def check(self, model: str) -> None:
        require()
        if _is_path(model):
            _check_yaml_file(Path(model))
        elif model not in builtin_yamls():
            full = f"ultralytics/{model}"
            raise HeadstartError(f"unknown model {full!r}",
                                 fix=did_you_mean(full, [f"ultralytics/{n}" for n in self.names()])[:400]
                                 + "; or ultralytics:<path to a detection .yaml>")

    def create(self, model: str, *, image_size: int | None) -> Backbone:
        return create(model)

    def plain_model(self, model: str, *, num_classes: int | None) -> None:
        return None  # the detector is no classifier: `export --format ultralytics` writes it whole

    def auto_image_size(self, side: int) -> int:
        return min(640, max(32, -(-side // 32) * 32))  # a multiple of the largest stride, 32

    def modality(self, model: str) -> str:
        return "image"


def package_dir() -> Path | None:
    """Where Ultralytics is installed (found without importing it, which takes seconds), or None."""
    try:
        spec = importlib.util.find_spec("ultralytics")
    except ValueError:  # in sys.modules without a spec: blocked (None) or a stand-in
        return None
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def require() -> None:
    if package_dir() is None:
        raise HeadstartError("ultralytics/ models need the optional Ultralytics package", fix=INSTALL)


@functools.cache
def builtin_yamls() -> dict[str, Path]:
    """Detection models of the installed Ultralytics by the names its `YOLO()` / `RTDETR()` take: each
    scale of a yaml is a name (`yolov8.yaml` -> `yolov8n.yaml` ... `yolov8x.yaml`); a yaml of one scale
    keeps its own name (`rtdetr-l.yaml`, `rtdetr-resnet50.yaml`)."""
    names = {}
    for path in sorted((package_dir() / "cfg" / "models").rglob("*.yaml")):
        spec = _read(path)
        if not _is_detector(spec):
            continue
        scales = spec.get("scales") or {}
        if len(scales) > 1 and not re.search(r"\d[a-z]", path.stem):  # yolov10n.yaml holds its scale already
            for scale in scales:
                names[re.sub(r"(\d+)(-.*)?$", rf"\g<1>{scale}\g<2>", path.stem) + path.suffix] = path
        else:
            names[path.name] = path
    return names


def _read(path: Path) -> dict:
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise HeadstartError(f"cannot read model yaml {path}: {err}".splitlines()[0],
                             fix="pass an Ultralytics model yaml") from None
    return spec if isinstance(spec, dict) else {}


def _is_detector(spec: dict) -> bool:
    backbone, head = spec.get("backbone"), spec.get("head")
    if not (isinstance(backbone, list) and isinstance(head, list) and backbone and head):
        return False
    sequential = all(isinstance(layer, list) and layer[0] == -1 for layer in backbone)
    return sequential and isinstance(head[-1], list) and len(head[-1]) > 2 and head[-1][2] in DETECT_HEADS


def _is_path(model: str) -> bool:
    return model.endswith((".yaml", ".yml")) and ("/" in model or Path(model).is_file())


def _check_yaml_file(path: Path) -> None:
    if not path.is_file():
        raise HeadstartError(f"model yaml not found: {path}",
                             fix="pass an existing Ultralytics detection .yaml")
    if not _is_detector(_read(path)):
        raise HeadstartError(f"{path} is not an Ultralytics detection yaml with a sequential backbone",
                             fix="pass a yaml whose head ends in Detect or RTDETRDecoder and whose backbone "
                             "layers all take the previous layer (from: -1)")


def import_ultralytics(module: str = "ultralytics.nn.tasks") -> ModuleType:
    """`module` of Ultralytics, imported offline and leaving the process as it was. On import Ultralytics
    replaces PIL's `Image.open` with a wrapper that pip-installs pi-heif the first time Pillow cannot
    identify a file (a bad image met later would raise ModuleNotFoundError or reach for the network
    instead of being skipped and named), and sets OMP_NUM_THREADS=1 for every later child process."""
    require()
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never reach out: no weights, fonts or events
    from PIL import Image

    kept, omp = Image.open, os.environ.get("OMP_NUM_THREADS")
    try:
        return importlib.import_module(module)  # AGPL, seconds to import: only once it is needed
    finally:
        Image.open = kept
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)


def detection_model(model: str, *, nc: int | None = None) -> nn.Module:
    """The full Ultralytics detector of `model` (a name from `builtin_yamls` or a yaml path), freshly
    initialised: a `DetectionModel`, or an `RTDETRDetectionModel` for a yaml ending in RT-DETR's decoder."""
    tasks = import_ultralytics()
    spec = tasks.yaml_model_load(model)  # Ultralytics finds the yaml of a name and reads its scale from it
    scales = spec.get("scales") or {}
    if not spec.get("scale") and len(scales) == 1:  # rtdetr-l.yaml: its one scale, and no warning
        spec["scale"] = next(iter(scales))
    detector = getattr(tasks, DETECT_HEADS[spec["head"][-1][2]])
    return detector(spec, ch=3, nc=nc, verbose=False)


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The backbone tensors of an Ultralytics checkpoint (`yolov8n.pt`, a training's `last.pt`, an
    export), read with Ultralytics' restricted loader (`weights_only`, its own classes allowed):
    `model.<i>.` keys of the backbone's layers, float32. The neck and head are left out."""
    torch_safe_load = import_ultralytics().torch_safe_load

    try:
        ckpt, _ = torch_safe_load(str(path), safe_only=True)
        detector = ckpt.get("ema") or ckpt["model"]
        n = backbone_length(detector)
    except Exception as err:  # noqa: BLE001 - any decode failure is the same user error
        raise HeadstartError(f"cannot read the Ultralytics checkpoint {path}: {type(err).__name__}: {err}"
                             .splitlines()[0], fix="pass a .pt written by Ultralytics or by headstart export") from None
    return {k: v.float() if v.is_floating_point() else v  # a trained file holds float16
            for k, v in detector.state_dict().items() if int(k.split(".")[1]) < n}


def backbone_length(detector: nn.Module) -> int:
    return len(detector.yaml["backbone"])


def create(model: str) -> Backbone:
    detector = detection_model(model)
    m = YoloBackbone(list(detector.model[:backbone_length(detector)]))
    name = f"ultralytics:{model}" if _is_path(model) else f"ultralytics/{model}"  # as `hf:<folder>`
    meta = BackboneMeta(name, "ultralytics", m.num_features, mean=(0.0, 0.0, 0.0),
                        std=(1.0, 1.0, 1.0), default_size=640)
    return Backbone(m, meta, lambda mod: [[mod[i] for i in stage] for stage in mod.stages])
