"""`Method`: the base LightningModule of every pretraining objective.

A method implements `loss(views)` and, when it has them, heads and an EMA teacher; the base
owns what is common: turning a uint8 batch into views on the training device (batched,
seeded), the optimizer and the step-indexed LR/WD schedules, logging, and updates that must
happen once per optimizer step (EMA teachers, queues, centers) — never once per micro-batch,
so gradient accumulation stays correct.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import lightning as L
import torch
from torch import nn

from headstart.config import Config
from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone
from headstart.train.schedule import at, warmup_cosine

log = logging.getLogger("headstart")


class MethodConfig(Config):
    """Hyper-parameters every method has; each method subclasses this with its own defaults."""

    lr: float = 1e-3             # per 256 images (scaled linearly with the global batch size)
    weight_decay: float = 1e-4
    optimizer: str = "adamw"     # adamw | lars | sgd
    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.01
    views: str = ""              # view recipe name; "" -> the method's own


class Plan(Config):
    """What the trainer decided for this run (resolved values, not user input)."""

    total_steps: int
    batch_size: int              # global
    image_size: int
    lr: float                    # absolute, after batch scaling
    weight_decay: float
    seed: int = 0
    channels_last: bool = True
    skip_nonfinite: int = 0      # steps with a NaN/Inf loss that may be skipped before stopping


class Method(L.LightningModule):
    """Base of every method; subclasses define `config_cls`, `default_views` and `loss`."""

    config_cls: ClassVar[type[MethodConfig]] = MethodConfig
    default_views: ClassVar[str] = "simclr"

    def __init__(self, backbone: Backbone, cfg: MethodConfig, plan: Plan) -> None:
        super().__init__()
        self.backbone = backbone
        self.cfg = cfg
        self.plan = plan
        from headstart.data.views import recipes

        self.recipe = recipes.recipe(cfg.views or self.default_views, plan.image_size)
        self._gen: torch.Generator | None = None
        warm = int(plan.total_steps * cfg.warmup_fraction)
        self.lr_schedule = warmup_cosine(plan.lr, plan.lr * cfg.final_lr_fraction, plan.total_steps, warm)

    # --- what a method implements -------------------------------------------------------
    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Views (float, on device) -> (loss, extra values to log)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss()")  # abstractmethod

    def after_optimizer_step(self) -> None:
        """Once per optimizer step, after it: EMA teachers, queues, centers."""

    # --- shared machinery ---------------------------------------------------------------
    def generator(self) -> torch.Generator:
        """Augmentation RNG on the batch's device, seeded per rank; saved in checkpoints."""
        if self._gen is None or self._gen.device != self.device:
            self._gen = torch.Generator(device=self.device)
            self._gen.manual_seed(self.plan.seed * 1000 + self.global_rank)
        return self._gen

    def make_views(self, images: torch.Tensor) -> list[torch.Tensor]:
        views = self.recipe(images, self.generator())
        if self.plan.channels_last:
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        return views

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, _ = batch  # labels are never used for pretraining
        loss, extra = self.loss(self.make_views(images))
        if not torch.isfinite(loss):
            return self._nonfinite(loss)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=images.shape[0])
        for key, value in extra.items():
            self.log(f"train/{key}", value, on_step=True, on_epoch=False, batch_size=images.shape[0])
        return loss

    def _nonfinite(self, loss: torch.Tensor) -> None:
        """Skip the step (returning None skips backward and the optimizer) or stop with advice."""
        self._skipped = getattr(self, "_skipped", 0) + 1
        if self._skipped <= self.plan.skip_nonfinite:
            log.warning("loss is %s at step %d; step skipped (%d of %d allowed)",
                        loss.item(), self.global_step, self._skipped, self.plan.skip_nonfinite)
            return None
        raise HeadstartError(
            f"training stopped: the loss became {loss.item()} at step {self.global_step}; the last good "
            "checkpoint is kept", fix="lower --lr, try --precision 32, or allow --skip-nonfinite N bad steps")

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        lr = at(self.lr_schedule, self.global_step)
        for group in self.optimizers().optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        self.log("train/lr", lr, on_step=True, on_epoch=False)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)  # Lightning calls this once per accumulated step
        self.after_optimizer_step()

    def trainable_modules(self) -> list[nn.Module]:
        """Modules the optimizer updates (backbone + heads; not EMA teachers)."""
        return [m for name, m in self.named_children() if not name.startswith("teacher")]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        from headstart.train.optim import build_optimizer

        return build_optimizer(self.trainable_modules(), self.cfg.optimizer, self.plan.lr, self.plan.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._gen is not None:
            checkpoint["headstart_rng"] = self._gen.get_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "headstart_rng" in checkpoint:
            self._pending_rng = checkpoint["headstart_rng"]

    def on_train_start(self) -> None:
        state = getattr(self, "_pending_rng", None)
        if state is not None:
            self.generator().set_state(state)
            self._pending_rng = None
