"""Schedules as arrays indexed by the global step (dinov2's habit: `lr = lr_schedule[it]`)."""

from __future__ import annotations

import math

import numpy as np


def warmup_cosine(base: float, final: float, total_steps: int, warmup_steps: int = 0,
                  start: float = 0.0) -> np.ndarray:
    """Linear warm-up from `start` to `base`, then cosine from `base` to `final`; one value per step."""
    total_steps = max(1, total_steps)
    warmup_steps = min(warmup_steps, total_steps - 1) if total_steps > 1 else 0
    warm = np.linspace(start, base, warmup_steps, endpoint=False)
    t = np.arange(total_steps - warmup_steps) / max(1, total_steps - warmup_steps - 1)
    cos = final + 0.5 * (base - final) * (1 + np.cos(math.pi * t))
    return np.concatenate([warm, cos])


def at(schedule: np.ndarray, step: int) -> float:
    """The schedule's value at `step`, holding the last value past the end (resume, extra steps)."""
    return float(schedule[min(step, len(schedule) - 1)])
