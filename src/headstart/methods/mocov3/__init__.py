"""MoCo v3: a query predicts its momentum key among the batch's keys, symmetrised; no queue
(Chen, Xie, He 2021, "An Empirical Study of Training Self-Supervised Vision Transformers",
arXiv:2104.02057). Made for ViTs (`headstart/vit-tiny`); works on conv nets as well.
"""

from __future__ import annotations

import copy

import torch
import torch.distributed as dist
import torch.nn.functional as F

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.methods.ema import ema_
from headstart.models.backbone import Backbone
from headstart.train.schedule import at, warmup_cosine


class MoCoV3Config(MethodConfig):
    lr: float = 1e-3               # AdamW per 256 images (paper, ViT: 1.5e-4 at batch 4096 over 300 epochs;
                                   # at batch 256 and a few thousand steps a larger rate learns faster)
    weight_decay: float = 0.1      # paper's (ViT)
    warmup_fraction: float = 0.1   # paper: 40 of 300 epochs; ViTs need the warm-up
    temperature: float = 0.2       # paper's (ViT)
    momentum_start: float = 0.99   # paper's, cosine-increased to 1
    momentum_end: float = 1.0
    hidden_dim: int = 1024         # paper: 4096 after a 384-768-D ViT; our backbones give 192-512-D
    out_dim: int = 256             # paper's


class MoCoV3(Method):
    config_cls = MoCoV3Config
    default_views = "byol"  # the paper uses BYOL's augmentations

    def __init__(self, backbone: Backbone, cfg: MoCoV3Config, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.models.modules.heads import BYOLPredictionHead, MoCoProjectionHead

        # projector: 3 layers, BN on every layer; predictor: 2 layers, no BN on the output (paper sec. 4)
        self.projection = MoCoProjectionHead(backbone.feature_dim, cfg.hidden_dim, cfg.out_dim,
                                             num_layers=3, batch_norm=True)
        self.prediction = BYOLPredictionHead(cfg.out_dim, cfg.hidden_dim, cfg.out_dim)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.teacher_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.momentum = warmup_cosine(cfg.momentum_start, cfg.momentum_end, plan.total_steps)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat(views[:2])                                       # (2B, C, S, S)
        q = self.prediction(self.projection(self.backbone(x)))         # (2B, out_dim)
        with torch.no_grad():
            k = self.teacher_projection(self.teacher_backbone(x))      # (2B, out_dim)
        q0, q1 = q.float().chunk(2)
        k0, k1 = k.float().chunk(2)
        t = self.cfg.temperature
        loss = contrastive(q0, k1, t) + contrastive(q1, k0, t)
        return loss, {"momentum": at(self.momentum, self.global_step)}

    def after_optimizer_step(self) -> None:
        m = at(self.momentum, self.global_step)
        ema_(self.teacher_backbone, self.backbone, m)
        ema_(self.teacher_projection, self.projection, m)


def contrastive(q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
    """MoCo v3's `ctr` (Algorithm 1): InfoNCE of `(B, D)` queries against the keys of every rank,
    the positive being the same image's key; scaled by 2T as in the paper's code."""
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    offset = 0
    if dist.is_available() and dist.is_initialized():
        from lightly.models.utils import concat_all_gather

        offset = dist.get_rank() * len(k)
        k = concat_all_gather(k.contiguous())          # (world * B, D); keys carry no gradient
    logits = q @ k.T / temperature                     # (B, world * B)
    labels = torch.arange(len(q), device=q.device) + offset
    return 2 * temperature * F.cross_entropy(logits, labels)
