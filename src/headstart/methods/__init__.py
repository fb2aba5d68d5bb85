"""Pretraining methods: one folder each, one registry line each.

    METHODS.register("name", "headstart.methods.name:ClassName")
"""

from __future__ import annotations

import importlib

from headstart.registry import Registry

METHODS: Registry[str] = Registry("method")
METHODS.register("simclr", "headstart.methods.simclr:SimCLR")
METHODS.register("byol", "headstart.methods.byol:BYOL")


def method_class(name: str) -> type:
    """The `Method` subclass registered as `name` (imported on first use)."""
    module, _, cls = METHODS.get(name).partition(":")
    return getattr(importlib.import_module(module), cls)


def list_methods() -> list[str]:
    return METHODS.names()
