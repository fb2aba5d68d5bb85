"""DINO: a student matches an EMA teacher's centered, sharpened distribution over prototypes,
from multi-crop views; the teacher sees only the 2 global crops (Caron et al. 2021,
"Emerging Properties in Self-Supervised Vision Transformers", arXiv:2104.14294).

lightly's `DINOProjectionHead` (with batch norm in its hidden layers by default: see
`DINOConfig.head_batch_norm`) and `DINOLoss` are used; the loss's centering is moved to once per
optimizer step (`loss.py`), as are the EMA teacher updates.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from headstart.data.views import recipes
from headstart.methods.base import Method, MethodConfig, Plan
from headstart.methods.dino.loss import StepCenteredDINOLoss
from headstart.methods.ema import ema_
from headstart.models.backbone import Backbone
from headstart.train.schedule import at, warmup_cosine


class DINOConfig(MethodConfig):
    lr: float = 1e-3                   # AdamW per 256 images (paper: 5e-4 over 100-800 epochs; short runs
                                       # on small data learn faster with 2x)
    weight_decay: float = 0.04         # paper's starting value (its cosine ramp to 0.4 is not applied)
    warmup_fraction: float = 0.1       # paper: 10 of 100 epochs
    out_dim: int = 2048                # paper: 65536 prototypes for ImageNet; with batch 256 most of 65536
                                       # would see no sample per step (noisy center), and its 256 x 65536 last
                                       # layer would outweigh a 1-3M-parameter CPU backbone; 2048 still far
                                       # exceeds the class count of small datasets
    hidden_dim: int = 1024             # paper: 2048 after a 384-2048-D backbone; ours give 192-512-D
    bottleneck_dim: int = 256          # paper's
    head_batch_norm: bool = True       # batch norm in the head's hidden layers (paper: off). Without it the
                                       # first AdamW steps move every image's output the same way, centering
                                       # flattens the teacher and a short run's loss sits at ln(out_dim)
                                       # (README, "Where the defaults come from")
    n_local: int = 6                   # local crops (paper: 6-10); each costs ~(3/7)^2 of a global crop
    student_temp: float = 0.1          # paper's
    teacher_temp_start: float = 0.04   # the authors' code's default, constant; their ViT-S/16 300-epoch recipe
    teacher_temp_end: float = 0.04     # warms up 0.04 -> 0.07 over 30 epochs, a temperature at which a short
                                       # run's loss does not start falling (README)
    teacher_temp_warmup_fraction: float = 0.3
    center_momentum: float = 0.9       # paper's
    momentum_start: float = 0.99       # teacher EMA, cosine to momentum_end (paper 0.996: short runs need a
    momentum_end: float = 1.0          # teacher that follows the student sooner)
    norm_last_layer: bool = True       # paper's default: weight-normalised prototypes, more stable
    freeze_last_layer_fraction: float = 0.01  # paper: last layer frozen during the first of 100 epochs
    clip_grad: float = 3.0             # paper's gradient clipping (global norm here); 0 turns it off


class DINO(Method):
    config_cls = DINOConfig
    default_views = "dino"

    def __init__(self, backbone: Backbone, cfg: DINOConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        from lightly.models.modules.heads import DINOProjectionHead

        if (cfg.views or self.default_views) == "dino":
            self.recipe = recipes.recipe("dino", plan.image_size, n_local=cfg.n_local)
        dims = (backbone.feature_dim, cfg.hidden_dim, cfg.bottleneck_dim, cfg.out_dim)
        head = {"norm_last_layer": cfg.norm_last_layer, "batch_norm": cfg.head_batch_norm}
        self.head = DINOProjectionHead(*dims, **head)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        # weight-normed heads cannot be deep-copied: build a twin and copy the weights in
        self.teacher_head = DINOProjectionHead(*dims, **head).requires_grad_(False)
        self.teacher_head.load_state_dict(self.head.state_dict())
        self.criterion = StepCenteredDINOLoss(cfg.out_dim, student_temp=cfg.student_temp,
                                              center_momentum=cfg.center_momentum)
        n = plan.total_steps
        self.momentum = warmup_cosine(cfg.momentum_start, cfg.momentum_end, n)
        self.teacher_temp = warmup_cosine(cfg.teacher_temp_end, cfg.teacher_temp_end, n,
                                          int(n * cfg.teacher_temp_warmup_fraction), start=cfg.teacher_temp_start)
        self.freeze_last_layer_steps = int(n * cfg.freeze_last_layer_fraction)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        glob, local = torch.cat(views[:2]), views[2:]                   # (2B, C, S, S), n x (B, C, s, s)
        with torch.no_grad():
            t = self.teacher_head(self.teacher_backbone(glob)).float()  # (2B, out_dim)
        feats = [self.backbone(glob)] + ([self.backbone(torch.cat(local))] if local else [])
        s = self.head(torch.cat(feats)).float()                         # ((2 + n) B, out_dim)
        temp = at(self.teacher_temp, self.global_step)
        loss = self.criterion(list(t.chunk(2)), list(s.chunk(len(views))), teacher_temp=temp)
        return loss, {"teacher_temp": temp, "momentum": at(self.momentum, self.global_step)}

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        if self.global_step < self.freeze_last_layer_steps:  # prototypes stay put at first (paper sec. 3.1)
            for p in self.head.last_layer.parameters():
                p.grad = None

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """The paper's clipping, by hand: Lightning's `clip_gradients` refuses fused optimizers under AMP."""
        if self.cfg.clip_grad <= 0:
            return
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None and getattr(optimizer, "_step_supports_amp_scaling", False):
            scaler.unscale_(optimizer)  # fp16 + fused: still scaled here (step() would unscale); clip true grads
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_grad)

    def after_optimizer_step(self) -> None:
        m = at(self.momentum, self.global_step)
        ema_(self.teacher_backbone, self.backbone, m)
        ema_(self.teacher_head, self.head, m)
        self.criterion.step_center()
