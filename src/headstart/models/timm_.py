"""Adapter for `timm/<name>` models (created with `pretrained=False`; weights come from files)."""

from __future__ import annotations

from torch import nn

from headstart.models.backbone import Backbone, BackboneMeta, children_groups


def names() -> list[str]:
    import timm

    return timm.list_models()


def create(name: str, img_size: int | None = None) -> Backbone:
    import timm

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
    from headstart.models.builtin import vit_groups

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
