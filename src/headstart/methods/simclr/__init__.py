"""SimCLR: contrast two augmented views of each image (Chen et al. 2020, arXiv:2002.05709)."""

from __future__ import annotations

import torch

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.models.backbone import Backbone


class SimCLRConfig(MethodConfig):
    lr: float = 2e-3                 # AdamW per 256 images; small-batch friendly (LARS needs large batches)
    weight_decay: float = 1e-4
    temperature: float = 0.2         # 0.1-0.5; lower suits small batches (solo-learn's CIFAR setting)
    hidden_dim: int = 1024
    out_dim: int = 128


class SimCLR(Method):
    config_cls = SimCLRConfig
    default_views = "simclr"

    def __init__(self, backbone: Backbone, cfg: SimCLRConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.loss import NTXentLoss
        from lightly.models.modules.heads import SimCLRProjectionHead

        self.projection = SimCLRProjectionHead(backbone.feature_dim, cfg.hidden_dim, cfg.out_dim)
        self.criterion = NTXentLoss(temperature=cfg.temperature, gather_distributed=True)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat(views[:2])                          # (2B, C, S, S): one forward for both views
        z = self.projection(self.backbone(x))             # (2B, out_dim)
        z0, z1 = z.chunk(2)
        return self.criterion(z0, z1), {}
