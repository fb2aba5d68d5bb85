"""VICReg: invariance between two views' embeddings, with variance and covariance terms that
keep them from collapsing; no teacher, no negatives (Bardes, Ponce, LeCun 2022, arXiv:2105.04906)."""

from __future__ import annotations

import torch

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.models.backbone import Backbone


class VICRegConfig(MethodConfig):
    optimizer: str = "lars"        # paper's and solo-learn's; ahead of AdamW at every rate tried (README)
    lr: float = 0.3                # solo-learn's CIFAR lr (paper: 0.2 per 256 at batch 2048)
    weight_decay: float = 1e-4     # solo-learn's (paper: 1e-6 over 1000 epochs); LARS skips biases and norms
    hidden_dim: int = 2048         # paper: 8192-8192-8192; the covariance term is estimated from the batch,
    out_dim: int = 2048            # and 2048 dims keep it well-posed at batch 256 (solo-learn's CIFAR setting)
    sim_weight: float = 25.0       # lambda (invariance), paper's
    var_weight: float = 25.0       # mu (variance), paper's
    cov_weight: float = 1.0        # nu (covariance), paper's


class VICReg(Method):
    config_cls = VICRegConfig
    default_views = "byol"  # the paper uses BYOL's augmentations

    def __init__(self, backbone: Backbone, cfg: VICRegConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.loss import VICRegLoss
        from lightly.models.modules.heads import VICRegProjectionHead

        self.projection = VICRegProjectionHead(backbone.feature_dim, cfg.hidden_dim, cfg.out_dim)
        self.criterion = VICRegLoss(lambda_param=cfg.sim_weight, mu_param=cfg.var_weight,
                                    nu_param=cfg.cov_weight, gather_distributed=True)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat(views[:2])                           # (2B, C, S, S)
        z = self.projection(self.backbone(x)).float()      # (2B, out_dim); statistics in float32
        z0, z1 = z.chunk(2)
        return self.criterion(z0, z1), {}
