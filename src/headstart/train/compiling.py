"""`--compile`: `torch.compile` (inductor) on the backbone, the part of a step where the time goes.

`auto` compiles on GPUs only. On this project's 2-core CPU (bench/compile_step.py, README "Where a
CPU step's time goes") the compiled step was measured against eager with its compile time in the
whole-process wall time; `--compile on` compiles anywhere. The module is compiled in place
(`nn.Module.compile`), so its state dict, checkpoints and exports keep their names.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


def wants_compile(mode: Literal["auto", "on", "off"], accelerator: str = "auto") -> bool:
    if mode == "auto":
        return accelerator != "cpu" and torch.cuda.is_available()
    return mode == "on"


def compile_backbone(module: nn.Module, mode: Literal["auto", "on", "off"], accelerator: str = "auto") -> None:
    """Compile `module` in place when `mode` asks for it (see `wants_compile`)."""
    if wants_compile(mode, accelerator):
        module.compile()
