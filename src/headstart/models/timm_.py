"""Adapter for `timm/<name>` models (created with `pretrained=False`; weights come from files)."""

from __future__ import annotations

import timm
from torch import nn

from headstart.models.backbone import Backbone, BackboneMeta, children_groups
from headstart.models.builtin import vit_groups
from headstart.models.family import check_listed


class TimmFamily:
    def names(self) -> list[str]:
        return timm.list_models()

    def check(self, model: str) -> None:
        check_listed("timm", model, self.names())

    def create(self, model: str, *, image_size: int | None) -> Backbone:
        return create(model, img_size=image_size)

    def plain_model(self, model: str, *, num_classes: int | None) -> nn.Module:
        return timm.create_model(model, pretrained=False, **({"num_classes": num_classes} if num_classes is not None else {}))

    def auto_image_size(self, side: int) -> int:
        return min(224, max(32, side))  # the strides of library nets need at least 32 px

    def modality(self, model: str) -> str:
        return "image"


def create(name: str, img_size: int | None = None) -> Backbone:
    kwargs = {}
    if img_size is not None and _is_vit(name):
        kwargs = {"img_size": img_size, "dynamic_img_size": True}
    m = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    cfg = getattr(m, "pretrained_cfg", {}) or {}
    patch = getattr(getattr(m, "patch_embed", None), "patch_size", None)
    meta = BackboneMeta(
        f"timm/{name}", "timm", m.num_features,
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))), std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        default_size=int(cfg.get("input_size", (3, 224, 224))[-1]),
        patch_size=int(patch[0]) if patch is not None else None,
        head_name=m.default_cfg.get("classifier", "head") if hasattr(m, "default_cfg") else None,
    )
    return Backbone(m, meta, _groups)


def _is_vit(name: str) -> bool:
    return name.startswith(("vit_", "deit", "eva", "beit"))


def _groups(m: nn.Module) -> list[list[nn.Module]]:
    if hasattr(m, "blocks") and hasattr(m, "patch_embed"):
        return vit_groups(m)
    if hasattr(m, "blocks") and hasattr(m, "conv_stem"):  # efficientnet / mobilenet family
        tail = [c for c in (getattr(m, "conv_head", None), getattr(m, "bn2", None)) if c is not None]
        return [[m.conv_stem, m.bn1], *[[b] for b in m.blocks], tail]
    if hasattr(m, "stages") and hasattr(m, "stem"):
        return [[m.stem], *[[s] for s in m.stages]]
    if hasattr(m, "layer1"):
        stem = [c for n, c in m.named_children() if not n.startswith("layer") and n not in ("global_pool", "fc")]
        return [stem] + [[getattr(m, f"layer{i}")] for i in range(1, 5)]
    return children_groups(m)
