"""`SemiFinetuneModule`: a fine-tuning step plus FixMatch's unlabeled term (`--semi`).

Each step takes the labeled batch from the loader and `mu` (`--semi-ratio`) times as many
unlabeled images from the `UnlabeledStream`. The weak view of an unlabeled image is the labeled
images' view (the "supervised" recipe); its strong view is another draw of that recipe followed
by RandAugment + Cutout. The weak views go through the model without gradient (a separate
forward: on CPUs their backward would cost about a quarter of the step for nothing), the labeled
and strong views together. The loss is `CE(labeled) + lambda_u * consistency`. Every random draw
comes from the module's seeded generator and the stream's count, both saved in checkpoints, so a
resumed run continues as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits
from headstart.adapt.head import Classifier
from headstart.adapt.module import FinetuneModule, FinetuneSettings
from headstart.adapt.semi.alignment import DistributionAlignment
from headstart.adapt.semi.fixmatch import Consistency
from headstart.adapt.semi.stream import UnlabeledStream
from headstart.adapt.semi.strong import rand_augment
from headstart.adapt.semi.thresholds import build_threshold
from headstart.adapt.strategies.base import Strategy
from headstart.train.module import Plan


class SemiFinetuneModule(FinetuneModule):
    def __init__(self, model: Classifier, strategy: Strategy, cfg: FinetuneSettings, plan: Plan, *,
                 stream: UnlabeledStream, consistency: Consistency, weight: float,
                 class_weights: torch.Tensor | None = None) -> None:
        super().__init__(model, strategy, cfg, plan, class_weights=class_weights)
        self.stream = stream
        self.semi = consistency
        self.semi_weight = weight
        self.labels_known = stream.pool.has_labels

    def strong_views(self, images: torch.Tensor) -> torch.Tensor:
        strong = rand_augment(self.recipe(images, self.generator())[0], gen=self.generator())
        return strong.contiguous(memory_format=torch.channels_last) if self.plan.channels_last else strong

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        images, labels = batch  # uint8 (B, C, H, W), (B,)
        u, u_labels, u_index = (t.to(self.device, non_blocking=True) for t in self.stream.next())  # mu B rows
        x, weak, strong = self.make_views(images)[0], self.make_views(u)[0], self.strong_views(u)
        with torch.no_grad():
            weak_logits = self(weak)  # (mu B, K)
        logits, strong_logits = self(torch.cat([x, strong])).split([len(x), len(strong)])
        supervised = self.labeled_loss(logits, labels)
        truth = u_labels if self.labels_known else None  # for monitoring only
        unlabeled, counts = self.semi(weak_logits, strong_logits, u_index, truth)
        loss = supervised + self.semi_weight * unlabeled
        if not torch.isfinite(loss):
            return self.nonfinite(loss)
        b = len(x)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=b)
        self.log("train/semi_loss", unlabeled, on_step=True, on_epoch=False, batch_size=b)
        self.log("train/mask_rate", counts[1] / counts[0], prog_bar=True, on_step=True, on_epoch=False,
                 batch_size=b)
        if self.labels_known:
            self.log("train/pseudo_acc", counts[2] / counts[1].clamp(min=1), on_step=True, on_epoch=False,
                     batch_size=b)
        return loss

    def after_optimizer_step(self) -> None:
        super().after_optimizer_step()
        world = self.trainer.world_size if self._trainer is not None else 1
        self.semi.step(gather=(lambda t: self.all_gather(t).flatten(0, 1)) if world > 1 else None)

    def on_train_start(self) -> None:
        super().on_train_start()
        self.stream.rank, self.stream.world = self.global_rank, self.trainer.world_size  # known once fit runs

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["headstart_semi"] = {"drawn": self.stream.drawn}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.stream.drawn = int(checkpoint.get("headstart_semi", {}).get("drawn", 0))

    def summary(self) -> dict:
        """What results.json records of the unlabeled term at the end of training."""
        out = self.semi.summary(labels_known=self.labels_known)
        out["thresholds"] = [round(v, 4) for v in self.semi.threshold.per_class().tolist()]
        return out


def build_semi_module(cfg: FinetuneConfig, model: Classifier, strategy: Strategy, settings: FinetuneSettings,
                      plan: Plan, data: LabeledSplits,
                      class_weights: torch.Tensor | None = None) -> SemiFinetuneModule:
    """The module of `--semi`: its stream over `data.unlabeled`, threshold and optional alignment."""
    k = len(data.classes)
    threshold = build_threshold(cfg.semi, num_classes=k, tau=cfg.semi_threshold,
                                pool_size=len(data.unlabeled))
    align = (DistributionAlignment.from_labels(torch.from_numpy(data.train.labels), k) if cfg.semi_align
             else None)
    stream = UnlabeledStream(data.unlabeled, batch_size=plan.batch_size * cfg.semi_ratio, seed=cfg.seed)
    return SemiFinetuneModule(model, strategy, settings, plan, stream=stream,
                              consistency=Consistency(threshold, align), weight=cfg.semi_weight,
                              class_weights=class_weights)


def semi_record(cfg: FinetuneConfig, module: SemiFinetuneModule) -> dict:
    """results.json's `semi`: the settings, the pool, and the final mask rate and pseudo-label accuracy."""
    return {"method": cfg.semi, "ratio": cfg.semi_ratio, "threshold": cfg.semi_threshold,
            "weight": cfg.semi_weight, "align": cfg.semi_align,
            "unlabeled_data": cfg.unlabeled_data or "the rest of --data's training split",
            "unlabeled_images": len(module.stream.pool), "unlabeled_batches": module.stream.drawn,
            **module.summary()}
