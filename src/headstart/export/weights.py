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
    data = safetensors_bytes(backbone_state(backbone), metadata={"model": model, "format": "headstart-backbone"})
    atomic_write(path, lambda f: f.write(data))


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """A `.safetensors` file whose bytes depend only on its content: safetensors writes the metadata
    in hash-map order, which changes from process to process, so the header is written sorted."""
    import json

    from safetensors.torch import save

    data = save(tensors, metadata=metadata)
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), separators=(",", ":"), sort_keys=True).encode()
    header += b" " * (-len(header) % 8)  # the format pads the header to 8 bytes with spaces
    return len(header).to_bytes(8, "little") + header + data[8 + n:]
