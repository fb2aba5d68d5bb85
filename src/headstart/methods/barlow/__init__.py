"""Barlow Twins: drive the cross-correlation of two views' embeddings to the identity
(Zbontar et al. 2021, arXiv:2103.03230); no teacher, no negatives."""

from __future__ import annotations

import torch

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.models.backbone import Backbone


class BarlowConfig(MethodConfig):
    optimizer: str = "lars"        # paper's and solo-learn's; ahead of AdamW on short runs too (README)
    lr: float = 0.3                # solo-learn's CIFAR lr (paper: 0.2 at batch 2048)
    weight_decay: float = 1e-4     # solo-learn's (paper: 1.5e-6 over 1000 epochs); LARS skips biases and norms
    hidden_dim: int = 2048         # paper: 8192-8192-8192; the D x D cross-correlation is estimated from the
    out_dim: int = 2048            # batch, and 2048 keeps it well-posed at batch 256 (solo-learn's CIFAR setting)
    lambda_param: float = 5e-3     # off-diagonal weight, paper's (0.0051)
    scale_loss: float = 1.0        # loss multiplier (solo-learn: 0.1). The loss sums over out_dim; LARS
                                   # rescales weight steps but not those of biases and norms, so the scale
                                   # only moves those; neither value wins on both measures (README)


class Barlow(Method):
    config_cls = BarlowConfig
    default_views = "byol"  # the paper uses BYOL's augmentations

    def __init__(self, backbone: Backbone, cfg: BarlowConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.loss import BarlowTwinsLoss
        from lightly.models.modules.heads import BarlowTwinsProjectionHead

        self.projection = BarlowTwinsProjectionHead(backbone.feature_dim, cfg.hidden_dim, cfg.out_dim)
        self.criterion = BarlowTwinsLoss(lambda_param=cfg.lambda_param, gather_distributed=True)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat(views[:2])                           # (2B, C, S, S)
        z = self.projection(self.backbone(x)).float()      # (2B, out_dim); statistics in float32
        z0, z1 = z.chunk(2)
        return self.cfg.scale_loss * self.criterion(z0, z1), {}
