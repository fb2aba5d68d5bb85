"""A classification head on any backbone, and its plain weights.

`Classifier` = `Backbone` (features `(B, D)`) + `nn.Linear(D, K)`. Its class names come from the
data and travel with the exported weights. `plain_state` names the head the way the library's own
constructor does (`classifier` for timm EfficientNets, `head` for ViTs, `fc` for torchvision
ResNets; `head` for built-ins), so `timm.create_model(name, num_classes=K)` loads
`exported/model.safetensors` with `load_state_dict(strict=True)` — no headstart needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import nn

from headstart.errors import HeadstartError
from headstart.export.weights import backbone_state
from headstart.io import atomic_write
from headstart.models.backbone import Backbone
from headstart.models.factory import create_backbone, run_tokenizer
from headstart.run import Run


class Classifier(nn.Module):
    """Float images in [0, 1] `(B, C, H, W)` -> logits `(B, K)`."""

    def __init__(self, backbone: Backbone, classes: list[str], head: nn.Linear | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.classes = list(classes)
        self.head = head if head is not None else new_head(backbone.feature_dim, len(classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))  # (B, K)


def new_head(dim: int, num_classes: int) -> nn.Linear:
    """A linear head with small weights (std 0.01) and zero bias, so it starts near uniform."""
    head = nn.Linear(dim, num_classes)
    nn.init.trunc_normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    return head


def head_name(backbone: Backbone) -> str:
    """The attribute the library constructor gives its classifier ("head" for built-ins)."""
    return backbone.meta.head_name or "head"


def plain_state(model: Classifier) -> dict[str, torch.Tensor]:
    """Backbone tensors + head under the library's classifier name, contiguous on the CPU."""
    state = backbone_state(model.backbone)
    name = head_name(model.backbone)
    state[f"{name}.weight"] = model.head.weight.detach().cpu().contiguous()
    state[f"{name}.bias"] = model.head.bias.detach().cpu().contiguous()
    return state


def save_classifier(model: Classifier, path: Path, image_size: int) -> None:
    """`exported/model.safetensors`: plain weights; metadata holds the model, classes and head name."""
    meta = model.backbone.meta
    metadata = {
        "model": meta.name,
        "format": "headstart-classifier",
        "head": head_name(model.backbone),
        "classes": json.dumps(model.classes),
        "image_size": str(image_size),
        "mean": json.dumps(list(meta.mean)),
        "std": json.dumps(list(meta.std)),
    }
    data = save(plain_state(model), metadata=metadata)
    atomic_write(path, lambda f: f.write(data))


def load_classifier(run: Run) -> tuple[Classifier, int]:
    """The fine-tuned classifier of a run folder and its input side."""
    path = run.model_file
    if not path.is_file():
        raise HeadstartError(
            f"{run.path} holds no fine-tuned model ({path.relative_to(run.path)} is missing)",
            fix="pass the --out of a finished `headstart finetune` run",
        )
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    if metadata.get("format") != "headstart-classifier":
        raise HeadstartError(
            f"{path} was not written by headstart finetune", fix="pass a fine-tuned run folder"
        )
    size = int(metadata["image_size"])
    backbone = create_backbone(metadata["model"], image_size=size, tokenizer=run_tokenizer(run))  # text: its vocabulary
    name = metadata["head"]
    head_w, head_b = state.pop(f"{name}.weight"), state.pop(f"{name}.bias")
    backbone.module.load_state_dict(state, strict=True)
    head = nn.Linear(head_w.shape[1], head_w.shape[0])
    head.load_state_dict({"weight": head_w, "bias": head_b})
    return Classifier(backbone, json.loads(metadata["classes"]), head), size
