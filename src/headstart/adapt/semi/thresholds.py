"""Confidence thresholds of pseudo-labels: which weak-view predictions are trusted as labels.

Each is a small `nn.Module` whose state lives in buffers (so it travels in checkpoints and a
resumed run masks as an uninterrupted one would). `per_class()` is the `(K,)` threshold a
prediction of each class must reach; `update(probs, index)` folds in the weak-view
probabilities of one optimizer step (call it once per step, after it, never per micro-batch).

- `FixedThreshold`: FixMatch's one confidence threshold tau (Sohn et al. 2020, arXiv:2001.07685).
- `FlexThreshold`: FlexMatch's curriculum pseudo-labelling (Zhang et al. 2021, arXiv:2110.08263).
  A class's learning status sigma_c counts the unlabeled images whose latest prediction was class
  c with confidence >= tau; beta_c = sigma_c / max(max_c sigma_c, unused) with the threshold
  warm-up, and the threshold is tau * M(beta_c), M(x) = x / (2 - x). Classes the model has not
  learned yet get low thresholds, so they are not starved of pseudo-labels early on. It keeps one
  slot per unlabeled image. One departure: `unused` counts the images seen but never predicted
  confidently, where the paper counts every such image of the pool. Its runs see each image many
  times, so the two agree after the first pass; a short CPU run may not finish one pass over a
  large pool, and counting unseen images would hold every threshold near 0 for the whole run
  (every pseudo-label kept, right or wrong).
- `FreeThreshold`: FreeMatch's self-adaptive thresholds (Wang et al. 2023, arXiv:2205.07246):
  a global tau_t = EMA of the mean max confidence and class-wise p_t(c) = EMA of the mean
  probability of class c, both starting at 1/K; the threshold of class c is
  tau_t * p_t(c) / max_c p_t(c). It ignores the fixed tau: it starts low and rises as the model
  grows confident. (FreeMatch's fairness loss is not included.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from headstart.registry import Registry


class Threshold(nn.Module):
    """The interface: `per_class()` -> `(K,)` thresholds; `update(probs, index)` once per optimizer step."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def per_class(self) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define per_class()")  # abstractmethod

    def update(self, probs: torch.Tensor, index: torch.Tensor) -> None:
        """Fold in weak-view probabilities `(N, K)` of unlabeled images with pool indices `(N,)`."""


class FixedThreshold(Threshold):
    """FixMatch: one threshold `tau` for every class."""

    def __init__(self, num_classes: int, *, tau: float = 0.95, **_: object) -> None:
        super().__init__(num_classes)
        self.register_buffer("tau", torch.tensor(float(tau)))

    def per_class(self) -> torch.Tensor:
        return self.tau.expand(self.num_classes)


class FlexThreshold(Threshold):
    """FlexMatch: `tau * M(beta_c)` from each class's learning status over the unlabeled pool."""

    def __init__(self, num_classes: int, *, tau: float = 0.95, pool_size: int, warmup: bool = True,
                 **_: object) -> None:
        super().__init__(num_classes)
        self.warmup = warmup
        self.register_buffer("tau", torch.tensor(float(tau)))
        # latest confident prediction of each unlabeled image; UNUSED: seen, never confident; UNSEEN
        self.register_buffer("selected", torch.full((pool_size,), self.UNSEEN, dtype=torch.long))

    UNSEEN, UNUSED = -2, -1

    def status(self) -> torch.Tensor:
        """beta `(K,)` in [0, 1]: each class's share of confident predictions, normalised."""
        # counts of [unseen, unused, sigma_0, ..., sigma_K-1]
        counts = torch.bincount(self.selected + 2, minlength=self.num_classes + 2).float()
        sigma, unused = counts[2:], counts[1]
        top = torch.maximum(sigma.max(), unused) if self.warmup else sigma.max()
        return sigma / top.clamp(min=1.0)

    def per_class(self) -> torch.Tensor:
        beta = self.status()
        return self.tau * beta / (2.0 - beta)  # the convex mapping M(x) = x / (2 - x)

    def update(self, probs: torch.Tensor, index: torch.Tensor) -> None:
        confidence, predicted = probs.max(1)
        index, predicted = index.to(self.selected.device), predicted.to(self.selected.device)
        before = self.selected[index]
        unsure = torch.where(before == self.UNSEEN, self.UNUSED, before)  # keeps the last sure label, if any
        self.selected[index] = torch.where(confidence.to(before.device) >= self.tau, predicted, unsure)


class FreeThreshold(Threshold):
    """FreeMatch: `tau_t * MaxNorm(p_t)` from EMAs of the confidence and the class probabilities."""

    def __init__(self, num_classes: int, *, momentum: float = 0.999, **_: object) -> None:
        super().__init__(num_classes)
        self.momentum = momentum
        self.register_buffer("global_confidence", torch.tensor(1.0 / num_classes))
        self.register_buffer("class_probs", torch.full((num_classes,), 1.0 / num_classes))

    def per_class(self) -> torch.Tensor:
        return self.global_confidence * self.class_probs / self.class_probs.max()

    def update(self, probs: torch.Tensor, index: torch.Tensor) -> None:
        m, probs = self.momentum, probs.to(self.class_probs)
        self.global_confidence.mul_(m).add_((1 - m) * probs.max(1).values.mean())
        self.class_probs.mul_(m).add_((1 - m) * probs.mean(0))


THRESHOLDS: Registry[Callable[..., Threshold]] = Registry("semi-supervised method")
THRESHOLDS.register("fixmatch", FixedThreshold)
THRESHOLDS.register("flexmatch", FlexThreshold)
THRESHOLDS.register("freematch", FreeThreshold)


def build_threshold(name: str, *, num_classes: int, tau: float, pool_size: int) -> Threshold:
    """The threshold of `--semi NAME` (fixmatch | flexmatch | freematch); an unknown name lists them."""
    return THRESHOLDS.get(name)(num_classes, tau=tau, pool_size=pool_size)
