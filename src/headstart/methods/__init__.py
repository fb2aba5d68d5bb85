"""Pretraining methods: one folder each, one registry line each.

    METHODS.register("name", "headstart.methods.name:ClassName")
"""

from __future__ import annotations

import importlib

from headstart.registry import Registry

METHODS: Registry[str] = Registry("method")
METHODS.register("simclr", "headstart.methods.simclr:SimCLR")
METHODS.register("byol", "headstart.methods.byol:BYOL")
METHODS.register("moco", "headstart.methods.moco:MoCo")
METHODS.register("mocov3", "headstart.methods.mocov3:MoCoV3")
METHODS.register("dino", "headstart.methods.dino:DINO")
METHODS.register("vicreg", "headstart.methods.vicreg:VICReg")
METHODS.register("barlow", "headstart.methods.barlow:Barlow")
METHODS.register("mae", "headstart.methods.mae:MAE")
METHODS.register("distill", "headstart.methods.distill:Distill")
METHODS.register("mlm", "headstart.methods.mlm:MLM")
METHODS.register("next-token", "headstart.methods.next_token:NextToken")
METHODS.register("simcse", "headstart.methods.simcse:SimCSE")


def method_class(name: str) -> type:
    """The `Method` subclass registered as `name` (imported on first use)."""
    module, _, cls = METHODS.get(name).partition(":")
    return getattr(importlib.import_module(module), cls)


def list_methods() -> list[str]:
    return METHODS.names()
