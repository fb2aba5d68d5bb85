"""Fine-tuning strategies: one module each, one registry line each.

    STRATEGIES.register("name", "headstart.adapt.strategies.name:ClassName")

A strategy decides which backbone parameters train and how (see `base.Strategy`); LR multipliers,
layer-wise decay (`--backbone-lr-mult`, `--layer-decay`) and WiSE-FT blending (`--blend`) are
options that combine with any of them.
"""

from __future__ import annotations

import importlib

from headstart.registry import Registry

STRATEGIES: Registry[str] = Registry("fine-tuning strategy")
STRATEGIES.register("linear", "headstart.adapt.strategies.linear:Linear")
STRATEGIES.register("full", "headstart.adapt.strategies.full:Full")
STRATEGIES.register("lp-ft", "headstart.adapt.strategies.lp_ft:LPFT")
STRATEGIES.register("lora", "headstart.adapt.strategies.lora:LoRA")
STRATEGIES.register("freeze", "headstart.adapt.strategies.freeze:Freeze")
STRATEGIES.register("qlora", "headstart.adapt.strategies.qlora:QLoRA")


def strategy_class(name: str) -> type:
    """The `Strategy` subclass registered as `name` (imported on first use)."""
    module, _, cls = STRATEGIES.get(name).partition(":")
    return getattr(importlib.import_module(module), cls)


def list_strategies() -> list[str]:
    return STRATEGIES.names()
