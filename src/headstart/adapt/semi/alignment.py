"""Distribution alignment (Berthelot et al. 2020, ReMixMatch, arXiv:1911.09785):

    p_aligned = Normalize(p * prior / running),   Normalize(q) = q / sum(q)

`prior` is the class distribution of the labeled images; `running` is a moving average of the
model's weak-view predictions on unlabeled images (ReMixMatch averages the last 128 batches;
this is the EMA form, as USB's DistAlignEMA). When the model over-predicts a class, its
pseudo-labels are scaled down until the predictions' marginal matches the labeled one — at few
labels a model is often confident in a few classes and would otherwise pseudo-label mostly those.
`running` starts at `prior`, so the first steps are unaligned.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-6


class DistributionAlignment(nn.Module):
    """`align(probs)` rescales `(N, K)` probabilities towards `prior`; `update(probs)` once per step."""

    def __init__(self, prior: torch.Tensor, *, momentum: float = 0.99) -> None:
        super().__init__()
        prior = prior.float() / prior.float().sum()
        self.momentum = momentum
        self.register_buffer("prior", prior)
        self.register_buffer("running", prior.clone())

    @classmethod
    def from_labels(cls, labels: torch.Tensor, num_classes: int, **kwargs: float) -> DistributionAlignment:
        """The prior from labeled class counts (a class without labels keeps a tiny share)."""
        counts = torch.bincount(labels.flatten().long(), minlength=num_classes).float()
        return cls(counts + EPS, **kwargs)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        q = probs * (self.prior + EPS) / (self.running + EPS)  # (N, K)
        return q / q.sum(1, keepdim=True)

    def update(self, probs: torch.Tensor) -> None:
        """Fold in the unaligned weak-view probabilities `(N, K)` of one optimizer step."""
        self.running.mul_(self.momentum).add_((1 - self.momentum) * probs.to(self.running).mean(0))
