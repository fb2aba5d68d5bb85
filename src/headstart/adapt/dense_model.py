"""`DenseModel`: a `Backbone` + a detection or segmentation head, and its plain weights.

`exported/model.safetensors` of a dense run holds the backbone's tensors under the library's own
names (as `backbone.safetensors`) and the head's under `dense_head.`; the metadata names the
model, task, classes, input side, head width and (detection) box activation, so `load_dense`
rebuilds it without the run's config.
"""

from __future__ import annotations

import json

import torch
from safetensors import safe_open
from torch import nn

from headstart.adapt.heads.detect import DetectHead
from headstart.adapt.heads.features import Pyramid
from headstart.adapt.heads.segment import SegmentHead
from headstart.errors import HeadstartError
from headstart.export.weights import backbone_state, safetensors_bytes
from headstart.io import atomic_write
from headstart.models.backbone import Backbone
from headstart.models.factory import create_backbone
from headstart.run import Run

FORMATS = {"detect": "headstart-detector", "segment": "headstart-segmenter"}
HEAD_PREFIX = "dense_head."
HEAD_CHANNELS = 64


class DenseModel(nn.Module):
    """Float images in [0, 1] `(B, C, S, S)` -> detections / FCOS losses (detect) or logits (segment)."""

    def __init__(self, backbone: Backbone, task: str, classes: list[str], image_size: int,
                 channels: int = HEAD_CHANNELS, box_activation: str = "softplus") -> None:
        super().__init__()
        if task not in FORMATS:
            raise ValueError(f"task must be one of {sorted(FORMATS)}, got {task!r}")
        self.backbone = backbone
        self.task = task
        self.classes = list(classes)
        self.image_size = image_size
        self.channels = channels
        pyramid = Pyramid(backbone, image_size)
        self.strides = pyramid.strides
        self.head = (DetectHead(pyramid, len(classes), image_size, channels=channels,
                                box_activation=box_activation) if task == "detect"
                     else SegmentHead(pyramid, len(classes), channels=channels))

    def forward(self, x: torch.Tensor, targets: list[dict] | None = None):
        return self.head(x, targets) if self.task == "detect" else self.head(x)


def dense_state(model: DenseModel) -> dict[str, torch.Tensor]:
    state = backbone_state(model.backbone)
    state.update({HEAD_PREFIX + k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()})
    return state


def save_dense(model: DenseModel, run: Run) -> None:
    """`exported/model.safetensors`: backbone + head, plain names; the metadata rebuilds the model."""
    meta = model.backbone.meta
    metadata = {"model": meta.name, "format": FORMATS[model.task], "task": model.task,
                "classes": json.dumps(model.classes), "image_size": str(model.image_size),
                "head_channels": str(model.channels), "strides": json.dumps(model.strides)}
    if model.task == "detect":
        metadata["box_activation"] = model.head.box_activation
    data = safetensors_bytes(dense_state(model), metadata)
    atomic_write(run.model_file, lambda f: f.write(data))


def run_task(run: Run) -> str:
    """"classify", "detect" or "segment": what the run's exported model does ("classify" when unknown)."""
    if not run.model_file.is_file():
        return "classify"
    with safe_open(str(run.model_file), framework="pt") as f:
        fmt = (f.metadata() or {}).get("format")
    return next((task for task, name in FORMATS.items() if name == fmt), "classify")


def load_dense(run: Run) -> DenseModel:
    """The fine-tuned detector or segmenter of a run folder, in eval mode."""
    path = run.model_file
    if not path.is_file():
        raise HeadstartError(f"{run.path} holds no fine-tuned model ({path.name} is missing)",
                             fix="pass the --out of a finished `headstart finetune --task detect|segment` run")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    size = int(metadata["image_size"])
    backbone = create_backbone(metadata["model"], image_size=size)
    head = {k[len(HEAD_PREFIX):]: state.pop(k) for k in list(state) if k.startswith(HEAD_PREFIX)}
    backbone.module.load_state_dict(state, strict=True)
    model = DenseModel(backbone, metadata["task"], json.loads(metadata["classes"]), size,
                       int(metadata.get("head_channels", HEAD_CHANNELS)),
                       box_activation=metadata.get("box_activation", "relu"))  # older runs: torchvision's ReLU
    model.head.load_state_dict(head, strict=True)
    return model.eval()
