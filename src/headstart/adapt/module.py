"""`FinetuneModule`: the LightningModule of fine-tuning — supervised steps and nothing else.

It stands on the training base (`train.module.TrainingModule`: seeded batched views on the
device, step-indexed warm-up + cosine LR with per-group `lr_scale`, non-finite loss handling, RNG
in checkpoints) and adds the head, the labeled loss, validation accuracy, and the strategy's hooks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Strategy
from headstart.adapt.strategy_hooks import StrategyHooks
from headstart.data.views.inputs import model_input
from headstart.data.views.recipes import ViewRecipe
from headstart.train.module import Plan, TrainingModule, TrainSettings


class FinetuneSettings(TrainSettings):
    """Fine-tuning hyper-parameters the module needs besides the `Plan`."""

    views: str = "supervised"  # "none": batches are what the model reads (token ids), no augmentation
    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.0
    label_smoothing: float = 0.1
    backbone_lr_mult: float = 1.0
    layer_decay: float = 1.0


class FinetuneModule(StrategyHooks, TrainingModule):
    default_views = "supervised"

    def __init__(
        self,
        model: Classifier,
        strategy: Strategy,
        cfg: FinetuneSettings,
        plan: Plan,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__(model.backbone, cfg, plan)
        self.head = model.head
        self.classes = model.classes
        self.strategy = strategy
        self.register_buffer("class_weights", class_weights, persistent=False)

    @property
    def classifier(self) -> Classifier:
        """The backbone and head as one `Classifier` (shares their parameters)."""
        return Classifier(self.backbone, self.classes, self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))  # (B, K)

    def view_recipe(self, cfg: FinetuneSettings, plan: Plan) -> ViewRecipe | None:
        return None if cfg.views == "none" else super().view_recipe(cfg, plan)

    def make_views(self, batch: torch.Tensor) -> list[torch.Tensor]:
        return [batch] if self.recipe is None else super().make_views(batch)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        images, labels = batch  # uint8 (B, C, H, W), (B,)
        loss = self.labeled_loss(self(self.make_views(images)[0]), labels)
        if not torch.isfinite(loss):
            return self.nonfinite(loss)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=images.shape[0])
        return loss

    def labeled_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of `(B, K)` logits on the labels (class weights, label smoothing); logs train/acc."""
        loss = F.cross_entropy(logits, labels, weight=self.class_weights,
                               label_smoothing=self.cfg.label_smoothing)
        acc = (logits.argmax(1) == labels).float().mean()
        self.log("train/acc", acc, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, labels = batch
        x = model_input(images, self.plan.image_size, channels_last=self.plan.channels_last)
        logits = self(x)
        b = images.shape[0]
        self.log(
            "val/acc", (logits.argmax(1) == labels).float().mean(), prog_bar=True, on_epoch=True, batch_size=b
        )
        self.log("val/loss", F.cross_entropy(logits, labels), on_epoch=True, batch_size=b)

    def adapted(self):
        return self.classifier
