"""Figures of an instruction-tuned language model (pure functions over scores).

- exact match: the share of held-out instructions whose greedy answer is the reference exactly;
- preference accuracy: the share of pairs whose chosen answer the model finds more likely than the
  rejected one (summed log-prob margin > 0), and the mean log-prob margin;
- reward margin: DPO's implicit reward (Rafailov et al. 2023), beta * (log pi - log ref), of the
  chosen answer minus the rejected one, averaged, against a reference model (the start of the run).
"""

from __future__ import annotations

import numpy as np


def exact_match(matches: np.ndarray) -> float:
    """Share of True in `matches` `(N,)`.

    Example:
        >>> exact_match(np.array([True, False]))
        0.5
    """
    return float(np.mean(matches)) if len(matches) else 0.0


def preference_metrics(logps: np.ndarray, reference: np.ndarray | None = None, *, beta: float = 0.1) -> dict:
    """{accuracy, logp_margin[, reward_accuracy, reward_margin]} from `(N, 2)` summed log-probs
    (chosen, rejected) of the model and, optionally, of the reference.

    Example:
        >>> preference_metrics(np.array([[-1.0, -3.0], [-2.0, -1.0]]))["accuracy"]
        0.5
    """
    margin = logps[:, 0] - logps[:, 1]
    out = {"accuracy": float(np.mean(margin > 0)), "logp_margin": float(np.mean(margin)), "pairs": len(logps)}
    if reference is not None:
        rewards = beta * (logps - reference)
        gap = rewards[:, 0] - rewards[:, 1]
        out.update(reward_accuracy=float(np.mean(gap > 0)), reward_margin=float(np.mean(gap)), beta=beta)
    return out
