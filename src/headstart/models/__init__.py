"""Backbones by name: `headstart/<net>`, `torchvision/<name>`, `timm/<name>`.

    >>> backbone = create_backbone("headstart/resnet-mini")
    >>> backbone(torch.rand(8, 1, 28, 28)).shape   # (8, 256)
"""

from __future__ import annotations

from pathlib import Path

from headstart.errors import HeadstartError, did_you_mean
from headstart.models.backbone import Backbone, BackboneMeta

FAMILIES = ("headstart", "torchvision", "timm")


def create_backbone(name: str, *, weights: str | Path | None = None, image_size: int | None = None) -> Backbone:
    """Build a backbone by `"<package>/<name>"`, optionally loading a local weights file."""
    family, sep, model = name.partition("/")
    if not sep or family not in FAMILIES:
        raise HeadstartError(f"unknown model {name!r}", fix=f"use <package>/<name> with package one of {FAMILIES}; "
                             "`headstart list-models` lists them")
    valid = list_models(family=family)
    if model not in valid:
        raise HeadstartError(f"unknown model {name!r}", fix=did_you_mean(model, valid)[:400])
    from headstart.models.attention import explicit_attention_on_cpu

    backbone = _create(family, model, image_size)
    explicit_attention_on_cpu(backbone.module)  # a no-op for models without timm-style attention
    if weights is not None:
        from headstart.models.weights import load_weights

        load_weights(backbone.module, weights)
    return backbone


def _create(family: str, model: str, image_size: int | None) -> Backbone:
    if family == "headstart":
        from headstart.models.builtin import BUILTIN

        return BUILTIN[model](img_size=image_size) if model.startswith("vit") and image_size else BUILTIN[model]()
    if family == "torchvision":
        from headstart.models import torchvision_

        return torchvision_.create(model)
    from headstart.models import timm_

    return timm_.create(model, img_size=image_size)


def list_models(*, family: str | None = None) -> list[str]:
    """Model names of one family, or every `"<package>/<name>"` when `family` is None."""
    if family is None:
        return [f"{f}/{n}" for f in FAMILIES for n in list_models(family=f)]
    if family == "headstart":
        from headstart.models.builtin import BUILTIN

        return sorted(BUILTIN)
    if family == "torchvision":
        from headstart.models import torchvision_

        return torchvision_.names()
    from headstart.models import timm_

    return timm_.names()





def run_config(run: str | Path) -> dict:
    """The resolved config a headstart run folder saved (config.yaml)."""
    import yaml

    cfg_file = Path(run) / "config.yaml"
    try:
        cfg = yaml.safe_load(cfg_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise HeadstartError(f"{run} is not a headstart run folder ({err})", fix="pass the --out of a finished run") from None
    if not cfg.get("model"):
        raise HeadstartError(f"{cfg_file} names no model", fix="pass the --out of a finished run")
    return cfg


def run_model_name(run: str | Path) -> str:
    """The `model` a headstart run folder was trained with."""
    return str(run_config(run)["model"])


def run_image_size(run: str | Path) -> int | None:
    size = run_config(run).get("image_size")
    return size if isinstance(size, int) else None


def load_run_backbone(run: str | Path, *, image_size: int | None = None) -> Backbone:
    """The backbone a run folder exported (`exported/backbone.safetensors`), rebuilt by its model name."""
    return create_backbone(run_model_name(run), weights=Path(run), image_size=image_size or run_image_size(run))


__all__ = ["Backbone", "BackboneMeta", "create_backbone", "list_models", "load_run_backbone", "run_config",
           "run_image_size", "run_model_name"]
