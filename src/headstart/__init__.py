"""headstart: pretrain on your own unlabeled data, adapt with few labels, and measure the gain.

    import headstart
    headstart.pretrain(data="fashion-mnist", model="headstart/resnet-mini", method="simclr", out="runs/fm")
    headstart.finetune(from_="runs/fm", data="fashion-mnist", labels="1%", strategy="lp-ft", out="runs/fm-ft")

Every public function is keyword-only; its options are the CLI's, with `_` for `-`.
The API is imported on first use, so `import headstart` and `headstart --help` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "pretrain": "headstart.train",
    "finetune": "headstart.adapt",
    "evaluate": "headstart.adapt",
    "predict": "headstart.adapt",
    "embed": "headstart.export",
    "export": "headstart.export",
    "select": "headstart.curate",
    "dedup": "headstart.curate",
    "active_learning": "headstart.curate",
    "study": "headstart.eval.study",
    "demo": "headstart.eval.study",
    "list_models": "headstart.models",
    "list_methods": "headstart.methods",
}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'headstart' has no attribute {name!r}")
