"""headstart: pretrain on your own unlabeled data, adapt with few labels, and measure the gain.

    import headstart
    headstart.pretrain(data="fashion-mnist", model="headstart/resnet-mini", method="simclr", out="runs/fm")
    headstart.finetune(from_="runs/fm", data="fashion-mnist", labels="1%", strategy="lp-ft", out="runs/fm-ft")

Every public function is keyword-only; its options are the CLI's, with `_` for `-`. Each is a
command of `headstart.commands`, imported on first use, so `import headstart` and
`headstart --help` stay fast.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from typing import Any

__version__ = "0.1.0"

_API = {
    "pretrain": "headstart.commands.pretrain",
    "finetune": "headstart.commands.finetune",
    "align": "headstart.commands.align",
    "generate": "headstart.commands.generate",
    "evaluate": "headstart.commands.evaluate",
    "predict": "headstart.commands.predict",
    "embed": "headstart.commands.embed",
    "export": "headstart.commands.export",
    "select": "headstart.commands.select",
    "dedup": "headstart.commands.dedup",
    "active_learning": "headstart.commands.active",
    "study": "headstart.commands.study",
    "demo": "headstart.commands.demo",
    "list_models": "headstart.commands.list_models",
    "list_methods": "headstart.commands.list_methods",
}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'headstart' has no attribute {name!r}")


class _CallableExport(types.ModuleType):
    """`headstart.export` names both a package and the API function: importing the package binds it
    here, so the package itself calls through to the function."""

    def __call__(self, **kwargs: Any) -> Any:
        return __getattr__("export")(**kwargs)

    @property
    def __signature__(self) -> inspect.Signature:  # the function's keyword-only options, for help() and IDEs
        return inspect.signature(__getattr__("export"))


class _Root(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "export" and isinstance(value, types.ModuleType):
            value.__class__ = _CallableExport
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Root
