"""DINO's loss with its center moved once per optimizer step.

lightly's `DINOLoss` (the authors' cross-entropy over all teacher/student view pairs, same-view
pairs excluded) moves the center inside `forward`, i.e. once per micro-batch: with gradient
accumulation the center would take N small steps from N partial batches. This subclass keeps
lightly's forward and only replaces `update_center`: teacher outputs are summed during the
micro-batches and `step_center` applies one EMA step with their mean (over all ranks), as the
original code does once per (large) batch (Caron et al. 2021, arXiv:2104.14294, eq. 4).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from lightly.loss import DINOLoss


class StepCenteredDINOLoss(DINOLoss):
    def __init__(self, out_dim: int, *, student_temp: float, center_momentum: float) -> None:
        super().__init__(output_dim=out_dim, student_temp=student_temp, center_momentum=center_momentum)
        self._sum: torch.Tensor | None = None  # (D,) sum of this step's teacher outputs
        self._count = 0

    @torch.no_grad()
    def update_center(self, teacher_out: torch.Tensor) -> None:
        """Called by `forward` with `(views, B, D)` teacher outputs: only remembered here."""
        s = teacher_out.float().sum(dim=(0, 1))
        self._sum = s if self._sum is None else self._sum + s
        self._count += teacher_out.shape[0] * teacher_out.shape[1]

    @torch.no_grad()
    def step_center(self) -> None:
        """center <- m * center + (1 - m) * mean of every teacher output since the last call."""
        if self._sum is None:
            return
        total = torch.cat([self._sum, self._sum.new_tensor([self._count])])  # (D + 1,)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(total)
        batch_center = (total[:-1] / total[-1]).view_as(self.center)          # (1, 1, D)
        self.center.lerp_(batch_center.to(self.center.dtype), 1.0 - self.center_momentum)
        self._sum, self._count = None, 0
