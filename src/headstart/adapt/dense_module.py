"""`DenseModule`: the LightningModule of detection and segmentation fine-tuning.

It stands on the training base (`train.module.TrainingModule`: seeded generator on the device,
step-indexed warm-up + cosine LR with per-group `lr_scale`, non-finite loss handling, RNG in
checkpoints) and adds the box- and mask-aware views, the dense losses (FCOS's for detection,
cross-entropy with 255 ignored for segmentation) and the strategy's hooks, as `FinetuneModule`
does for classification.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from headstart.adapt.dense_model import DenseModel
from headstart.adapt.strategies.base import Strategy
from headstart.adapt.strategy_hooks import StrategyHooks
from headstart.data.dense.augment import dense_views
from headstart.data.dense.dataset import IGNORE, DenseBatch
from headstart.train.module import Plan, TrainingModule, TrainSettings


class DenseSettings(TrainSettings):
    """Dense fine-tuning hyper-parameters the module needs besides the `Plan`."""

    views: str = "supervised"    # unused recipe of the base; the dense views are `dense_views`
    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.0
    backbone_lr_mult: float = 1.0
    layer_decay: float = 1.0
    crop_scale: tuple[float, float] = (0.25, 1.0)  # area share of the random resized crop
    flip_p: float = 0.5


class DenseModule(StrategyHooks, TrainingModule):
    default_views = "supervised"

    def __init__(self, model: DenseModel, strategy: Strategy, cfg: DenseSettings, plan: Plan) -> None:
        super().__init__(model.backbone, cfg, plan)
        self.head = model.head
        self.task = model.task
        self.strategy = strategy
        self._dense = [model]  # the same parameters as backbone + head; a list keeps them registered once

    @property
    def dense(self) -> DenseModel:
        return self._dense[0]

    def training_step(self, batch: DenseBatch, batch_idx: int) -> torch.Tensor | None:
        x, boxes, labels, masks = dense_views(
            batch.images, batch.boxes, batch.labels, batch.masks, size=self.plan.image_size,
            gen=self.generator(), scale=tuple(self.cfg.crop_scale), flip_p=self.cfg.flip_p)
        if self.plan.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.task == "detect":
            losses = self.dense(x, [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels, strict=True)])
            loss = sum(losses.values())
        else:
            logits = self.dense(x)  # (B, K, S, S)
            loss = F.cross_entropy(logits, masks.long(), ignore_index=IGNORE)
            losses = {}
        if not torch.isfinite(loss):
            return self.nonfinite(loss)
        b = x.shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=b)
        for name, value in losses.items():
            self.log(f"train/{name}", value, on_step=True, on_epoch=False, batch_size=b)
        return loss

    def adapted(self):
        return self.dense
