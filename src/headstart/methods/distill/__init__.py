"""Distillation: a student learns to reproduce a frozen teacher's embeddings.

Knowledge distillation of representations (Hinton et al. 2015, arXiv:1503.02531; SEED, Fang et al.
2021, arXiv:2101.04731), as LightlyTrain's default `distillation` method: both networks see the
same view; a linear head maps the student's global embedding to the teacher's width, and — when
both have feature maps — a 1x1 convolution maps the student's map, resized to the teacher's grid,
onto the teacher's map (LightlyTrain distillation v2). The loss on each is `mse` on the raw
features (v2's choice: magnitudes carry information too), or `cosine`, the squared distance of
L2-normalised vectors (= 2 - 2 cos; scale-free, for teachers whose feature norms are extreme).
Measured on Fashion-MNIST (resnet-mini student, EfficientNet-Lite0 teacher at 64 px, 300 steps x
256, kNN@20 on the test split): mse 81.5%, cosine 80.6%, cosine without the map term 80.9%;
teacher 83.1%, random student 76.3%.

The teacher is built from local weights only, runs in eval mode under `torch.no_grad()` at its own
resolution (`teacher_size`), is excluded from the optimizer (attribute `teacher`), left out of
checkpoints, and never exported: the run's backbone is the student.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from headstart.methods.base import Method, MethodConfig, Plan
from headstart.methods.distill.maps import pooled, spatial_map
from headstart.methods.distill.teacher import load_teacher
from headstart.models.backbone import Backbone

log = logging.getLogger("headstart")


class DistillConfig(MethodConfig):
    lr: float = 2e-3                 # AdamW per 256 images
    weight_decay: float = 1e-4
    teacher: str = ""                # <package>/<name>; "": from the run folder or the file's metadata
    teacher_weights: str = ""        # local weights file or headstart run folder (required)
    teacher_size: int | Literal["auto"] = "auto"  # auto: a run folder's size, else max(image size, 64)
    loss: Literal["mse", "cosine"] = "mse"  # see the module docstring for the measurement
    spatial_weight: float = 1.0      # weight of the feature-map term (0: global embedding only)
    head_hidden: int = 0             # 0: linear head (v2); > 0: MLP head with this hidden width


class Distill(Method):
    config_cls = DistillConfig
    default_views = "distill"

    def __init__(self, backbone: Backbone, cfg: DistillConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        self.teacher, trained_size = load_teacher(cfg.teacher, cfg.teacher_weights)
        if plan.channels_last:
            self.teacher = self.teacher.to(memory_format=torch.channels_last)
        auto = trained_size or max(plan.image_size, 64)
        self.teacher_size = auto if cfg.teacher_size == "auto" else int(cfg.teacher_size)
        s_map, t_map = self._probe_map_channels()
        self.head = _head(backbone.feature_dim, self.teacher.feature_dim, cfg.head_hidden)
        self.spatial = cfg.spatial_weight > 0 and s_map is not None and t_map is not None
        self.spatial_head = nn.Conv2d(s_map, t_map, 1) if self.spatial else None
        if cfg.spatial_weight > 0 and not self.spatial:
            log.info("distill: no feature maps to match on one side; global embedding only")

    @torch.no_grad()
    def _probe_map_channels(self) -> tuple[int | None, int | None]:
        """Channels of the student's and the teacher's feature maps (None where there is no map)."""
        out = []
        for net, size in ((self.backbone, self.plan.image_size), (self.teacher, self.teacher_size)):
            was_training = net.training
            net.eval()
            m = spatial_map(net, net.forward_features(torch.zeros(2, 3, size, size)))
            net.train(was_training)
            out.append(None if m is None else m.shape[1])
        return out[0], out[1]

    def on_fit_start(self) -> None:
        # Lightning warns about modules in eval mode at the start of training: the teacher, by design
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")

    def train(self, mode: bool = True) -> Distill:
        super().train(mode)
        self.teacher.eval()  # always: its batch-norm statistics and dropout stay frozen
        return self

    @torch.no_grad()
    def teacher_targets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The teacher's global embedding (B, Dt) and map (B, Ct, ht, wt) of views x (B, C, S, S)."""
        if x.shape[-1] != self.teacher_size:
            down = x.shape[-1] > self.teacher_size
            x = F.interpolate(x, size=(self.teacher_size,) * 2, mode="bilinear", antialias=down,
                              align_corners=False)
        feats = self.teacher.forward_features(x)
        t_map = spatial_map(self.teacher, feats) if self.spatial else None
        return pooled(self.teacher, feats).float(), None if t_map is None else t_map.float()

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = views[0]  # (B, C, S, S): the same view for student and teacher
        t_global, t_map = self.teacher_targets(x)
        feats = self.backbone.forward_features(x)
        loss_global = embedding_loss(self.head(pooled(self.backbone, feats)).float(), t_global, self.cfg.loss)
        if not self.spatial:
            return loss_global, {}
        s_map = F.interpolate(spatial_map(self.backbone, feats), size=t_map.shape[-2:], mode="bilinear",
                              align_corners=False)
        s_map = self.spatial_head(s_map).float()  # (B, Ct, ht, wt)
        loss_spatial = embedding_loss(_locations(s_map), _locations(t_map), self.cfg.loss)
        loss = loss_global + self.cfg.spatial_weight * loss_spatial
        return loss, {"loss_global": loss_global.detach(), "loss_spatial": loss_spatial.detach()}

    # the teacher comes from its weights file: keep it out of checkpoints, put it back on load
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        state = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k: v for k, v in state.items() if not k.startswith("teacher.")}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        checkpoint["state_dict"].update({f"teacher.{k}": v for k, v in self.teacher.state_dict().items()})


def embedding_loss(student: torch.Tensor, teacher: torch.Tensor, kind: str) -> torch.Tensor:
    """Rows (N, D) each. `cosine`: squared distance of L2-normalised rows (= 2 - 2 cos), averaged over
    rows; `mse`: plain mean squared error."""
    if kind == "cosine":
        return (F.normalize(student, dim=-1) - F.normalize(teacher, dim=-1)).pow(2).sum(-1).mean()
    return F.mse_loss(student, teacher)


def _locations(m: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B*h*w, C): one feature vector per location."""
    return m.permute(0, 2, 3, 1).reshape(-1, m.shape[1])


def _head(d_in: int, d_out: int, hidden: int) -> nn.Module:
    if hidden <= 0:
        head = nn.Linear(d_in, d_out)
        nn.init.trunc_normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
        return head
    return nn.Sequential(nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, d_out))
