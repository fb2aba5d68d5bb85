"""FixMatch's consistency term (Sohn et al. 2020, arXiv:2001.07685):

    p = softmax(model(weak(u)))            no gradient; optionally distribution-aligned
    y_hat = argmax p,  keep = max p >= threshold[y_hat]
    loss_u = mean over the unlabeled batch of keep * CE(model(strong(u)), y_hat)

The mean runs over every unlabeled image, kept or not (as the paper), so the term grows as more
pseudo-labels pass the threshold. True labels, where the pool has them, only measure the
pseudo-labels (`pseudo_accuracy`); they never enter the loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from headstart.adapt.semi.alignment import DistributionAlignment
from headstart.adapt.semi.thresholds import Threshold

# order of the monitoring counts: unlabeled images, kept, kept and right, right (kept or not)
COUNTS = ("images", "kept", "kept_right", "right")


def pseudo_labels(probs: torch.Tensor, thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Arg-max labels `(N,)` and the mask `(N,)` of those whose confidence reaches their class's threshold."""
    confidence, labels = probs.max(1)
    return labels, confidence >= thresholds.to(probs)[labels]


def consistency_loss(strong_logits: torch.Tensor, probs: torch.Tensor, thresholds: torch.Tensor, *,
                     true_labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The masked cross-entropy of the strong view against the weak view's pseudo-labels.

    Args:
        strong_logits: `(N, K)` logits of the strong views (with gradient).
        probs: `(N, K)` weak-view probabilities (no gradient).
        thresholds: `(K,)` confidence a pseudo-label of each class needs (a float threshold: `tau.expand(K)`).
        true_labels: `(N,)` labels of the unlabeled images, for monitoring only (negative: unknown).

    Returns:
        The loss (a scalar) and the counts `(4,)` in `COUNTS` order (`right` counts 0 without true labels).

    Example:
        >>> loss, counts = consistency_loss(logits_s, logits_w.softmax(1), torch.full((10,), 0.95))
    """
    labels, keep = pseudo_labels(probs, thresholds)
    loss = (F.cross_entropy(strong_logits.float(), labels, reduction="none") * keep).mean()
    right = labels == true_labels if true_labels is not None else torch.zeros_like(keep)
    n = torch.tensor(len(keep), device=keep.device)
    counts = torch.stack([n, keep.sum(), (keep & right).sum(), right.sum()]).float()
    return loss, counts


class Consistency(nn.Module):
    """The unlabeled term of a fine-tuning step: align, threshold, mask, loss.

    `forward` computes the loss of one (micro-)batch; `step()` folds every batch since the last
    optimizer step into the threshold and the alignment, once per optimizer step. `recent` holds
    EMAs of the monitoring counts (over roughly the last 1 / (1 - RECENT) steps), for the record.
    """

    RECENT = 0.98

    def __init__(self, threshold: Threshold, alignment: DistributionAlignment | None = None) -> None:
        super().__init__()
        self.threshold = threshold
        self.alignment = alignment
        self.register_buffer("recent", torch.zeros(len(COUNTS)))
        self._pending: list[tuple[torch.Tensor, ...]] = []

    def forward(self, weak_logits: torch.Tensor, strong_logits: torch.Tensor, index: torch.Tensor,
                true_labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`(N, K)` logits of the weak and strong views of unlabeled images with pool `index` `(N,)`."""
        raw = weak_logits.detach().float().softmax(1)
        probs = self.alignment(raw) if self.alignment is not None else raw
        thresholds = self.threshold.per_class()
        loss, counts = consistency_loss(strong_logits, probs, thresholds, true_labels=true_labels)
        self._pending.append((raw, probs, index, counts))
        return loss, counts

    @torch.no_grad()
    def step(self, gather: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """After an optimizer step; `gather` concatenates a tensor over processes (DDP), so ranks agree."""
        if not self._pending:
            return
        raw, probs, index = (torch.cat(t) for t in list(zip(*self._pending))[:3])
        counts = torch.stack([p[3] for p in self._pending]).sum(0)
        self._pending.clear()
        if gather is not None:
            raw, probs, index = gather(raw), gather(probs), gather(index)
        if self.alignment is not None:
            self.alignment.update(raw)
        self.threshold.update(probs, index)
        self.recent.mul_(self.RECENT).add_((1 - self.RECENT) * counts.to(self.recent))

    def summary(self, *, labels_known: bool) -> dict[str, float]:
        """Recent mask rate, and where the pool's labels are known the accuracy of the kept pseudo-labels
        and of every weak-view prediction."""
        images, kept, kept_right, right = self.recent.tolist()
        out = {"mask_rate": round(kept / images, 4) if images else 0.0}
        if labels_known:
            out["pseudo_label_accuracy"] = round(kept_right / kept, 4) if kept else None
            out["unlabeled_accuracy"] = round(right / images, 4) if images else None
        return out
