"""Plain weights: what the library constructors load with `load_state_dict`, no headstart needed."""

from __future__ import annotations

from pathlib import Path

import torch

from headstart.io import atomic_write
from headstart.models.backbone import Backbone


def backbone_state(backbone: Backbone) -> dict[str, torch.Tensor]:
    """The plain model's tensors, contiguous and on the CPU (compiled wrappers unwrapped)."""
    module = getattr(backbone.module, "_orig_mod", backbone.module)
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def save_backbone(backbone: Backbone, path: Path, model: str) -> None:
    """`exported/backbone.safetensors`: the backbone alone, with its model name in the metadata."""
    from safetensors.torch import save

    data = save(backbone_state(backbone), metadata={"model": model, "format": "headstart-backbone"})
    atomic_write(path, lambda f: f.write(data))
