"""WiSE-FT: blend the start and the fine-tuned backbone weights (Wortsman et al. 2022,
"Robust fine-tuning of zero-shot models", arXiv:2109.01903).

    theta(alpha) = (1 - alpha) * theta_start + alpha * theta_tuned

alpha = 0 is the start backbone, alpha = 1 the fine-tuned one; the fine-tuned head is kept.
Floating tensors (weights and norm statistics) are blended; integer buffers (BatchNorm's
`num_batches_tracked`) keep the fine-tuned value. `--blend sweep` picks alpha on validation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from headstart.adapt.head import Classifier

SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0)


def blend_states(
    start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """(1 - alpha) * start + alpha * tuned for floating tensors; the tuned value for the rest."""
    if start.keys() != tuned.keys():
        missing = sorted(set(start) ^ set(tuned))[:3]
        raise ValueError(f"cannot blend state dicts with different keys (e.g. {missing})")
    return {
        k: torch.lerp(start[k].to(v.device, v.dtype), v, alpha) if v.is_floating_point() else v.clone()
        for k, v in tuned.items()
    }


def backbone_state(model: Classifier) -> dict[str, torch.Tensor]:
    """A detached copy of the backbone's plain model tensors."""
    return {k: v.detach().clone() for k, v in model.backbone.module.state_dict().items()}


def apply_blend(model: Classifier, start: dict[str, torch.Tensor], alpha: float) -> None:
    """Set the backbone to the blend of `start` and its current (fine-tuned) weights, in place."""
    tuned = model.backbone.module.state_dict()
    model.backbone.module.load_state_dict(blend_states(start, tuned, alpha))


def sweep_blend(
    model: Classifier,
    start: dict[str, torch.Tensor],
    score: Callable[[Classifier], float],
    alphas: tuple[float, ...] = SWEEP,
) -> tuple[float, dict[float, float]]:
    """Try every alpha, scoring each blend with `score` (validation accuracy); keep the best.

    Ties go to the larger alpha (the fine-tuned side). The model ends blended at the chosen alpha.
    """
    tuned = backbone_state(model)
    scores = {}
    for alpha in alphas:
        model.backbone.module.load_state_dict(blend_states(start, tuned, alpha))
        scores[alpha] = score(model)
    best = max(alphas, key=lambda a: (scores[a], a))
    model.backbone.module.load_state_dict(blend_states(start, tuned, best))
    return best, scores
