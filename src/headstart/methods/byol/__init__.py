"""BYOL: predict an EMA teacher's projection of another view (Grill et al. 2020, arXiv:2006.07733)."""

from __future__ import annotations

import copy

import torch

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.methods.ema import ema_
from headstart.models.backbone import Backbone
from headstart.train.schedule import at, warmup_cosine


class BYOLConfig(MethodConfig):
    lr: float = 2e-3
    weight_decay: float = 1e-5
    momentum_start: float = 0.99     # EMA momentum, cosine-increased to momentum_end (0.996 at ImageNet scale;
    momentum_end: float = 1.0        # shorter small-data runs start lower so the teacher moves)
    hidden_dim: int = 1024
    out_dim: int = 256


class BYOL(Method):
    config_cls = BYOLConfig
    default_views = "byol"

    def __init__(self, backbone: Backbone, cfg: BYOLConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead

        self.projection = BYOLProjectionHead(backbone.feature_dim, cfg.hidden_dim, cfg.out_dim)
        self.prediction = BYOLPredictionHead(cfg.out_dim, cfg.hidden_dim, cfg.out_dim)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.teacher_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.momentum = warmup_cosine(cfg.momentum_start, cfg.momentum_end, plan.total_steps)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat(views[:2])                                    # (2B, C, S, S)
        p = self.prediction(self.projection(self.backbone(x)))      # (2B, out_dim)
        with torch.no_grad():
            t = self.teacher_projection(self.teacher_backbone(x))   # (2B, out_dim)
        p0, p1 = p.chunk(2)
        t0, t1 = t.chunk(2)
        loss = _cosine_loss(p0, t1) + _cosine_loss(p1, t0)
        return loss, {"momentum": at(self.momentum, self.global_step)}

    def after_optimizer_step(self) -> None:
        m = at(self.momentum, self.global_step)
        ema_(self.teacher_backbone, self.backbone, m)
        ema_(self.teacher_projection, self.projection, m)


def _cosine_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """2 - 2 cos(p, z), averaged over the batch (BYOL eq. 2)."""
    return 2 - 2 * torch.nn.functional.cosine_similarity(p, z.detach(), dim=-1).mean()

