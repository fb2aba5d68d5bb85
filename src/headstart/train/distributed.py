"""Rank facts readable before Lightning starts (its launchers set these variables)."""

from __future__ import annotations

import os

import torch


def global_rank() -> int:
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", os.environ.get("LOCAL_RANK", "0"))))


def is_rank_zero() -> bool:
    return global_rank() == 0


def world_size(opts) -> int:
    """Processes in the run, from the options (devices x nodes)."""
    if opts.devices == "auto":
        devices = torch.cuda.device_count() if torch.cuda.is_available() and opts.accelerator != "cpu" else 1
    else:
        devices = int(opts.devices)
    return max(1, devices) * opts.num_nodes
