"""MoCo v2: contrast queries with a momentum encoder's keys and a queue of past keys
(He et al. 2019, arXiv:1911.05722; Chen et al. 2020, "Improved Baselines", arXiv:2003.04297).

The loss is symmetrised (each view is once the query, once the key), as in lightly's and
solo-learn's MoCo v2: twice the signal per image, which matters on short runs.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.methods.ema import ema_
from headstart.methods.moco.queue import KeyQueue, info_nce
from headstart.models.backbone import Backbone
from headstart.train.schedule import at, warmup_cosine


class MoCoConfig(MethodConfig):
    lr: float = 2e-3               # AdamW per 256 images (paper: SGD 0.03 for 200 ImageNet epochs;
                                   # AdamW converges faster on short, small-batch runs)
    weight_decay: float = 1e-4     # paper's
    temperature: float = 0.2       # paper's (MoCo v2)
    queue_size: int = 4096         # paper: 65536 keys for 1.28M images; 4096 is ~7% of a 60k-image set and
                                   # keys at most 8 steps old at batch 256 (the encoder moves fast early)
    momentum_start: float = 0.99   # paper: 0.999 constant over ~1M steps; short runs need a teacher that
    momentum_end: float = 1.0      # follows, so start lower and cosine-increase to 1 (BYOL's schedule)
    hidden_dim: int = 1024         # paper: 2048 on a 2048-D ResNet-50; our backbones give 192-512-D
    out_dim: int = 128             # paper's
    head_batch_norm: bool = True   # batch norm in the projection head (paper: none; MoCo v3 and SimCLR: yes):
                                   # the same first-steps effect as DINO's head (`DINOConfig.head_batch_norm`;
                                   # README, "Where the defaults come from")


class MoCo(Method):
    config_cls = MoCoConfig
    default_views = "moco"

    def __init__(self, backbone: Backbone, cfg: MoCoConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.models.modules.heads import MoCoProjectionHead

        self.projection = MoCoProjectionHead(backbone.feature_dim, cfg.hidden_dim, cfg.out_dim,
                                             batch_norm=cfg.head_batch_norm)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.teacher_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.queue = KeyQueue(cfg.queue_size, cfg.out_dim)
        self.momentum = warmup_cosine(cfg.momentum_start, cfg.momentum_end, plan.total_steps)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat(views[:2])                                              # (2B, C, S, S)
        q = F.normalize(self.projection(self.backbone(x)).float(), dim=1)     # (2B, out_dim)
        with torch.no_grad():
            k = F.normalize(self.teacher_projection(self.teacher_backbone(x)).float(), dim=1)
        q0, q1 = q.chunk(2)
        k0, k1 = k.chunk(2)
        queue, t = self.queue.keys, self.cfg.temperature  # (K, out_dim): one queue for all micro-batches
        loss = 0.5 * (info_nce(q0, k1, queue, t) + info_nce(q1, k0, queue, t))
        self.queue.add(k)  # enqueued after the optimizer step
        return loss, {"momentum": at(self.momentum, self.global_step)}

    def after_optimizer_step(self) -> None:
        m = at(self.momentum, self.global_step)
        ema_(self.teacher_backbone, self.backbone, m)
        ema_(self.teacher_projection, self.projection, m)
        self.queue.flush()
