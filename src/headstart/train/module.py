"""`TrainingModule`: the one LightningModule base that pretraining methods and fine-tuning subclass.

It owns what every training run shares: turning a uint8 batch into views on the training
device (batched, seeded per rank, the generator's state saved in checkpoints), the step-indexed
warm-up + cosine LR schedule applied to every parameter group times its `lr_scale`, skipping or
stopping on a non-finite loss, updates that happen once per optimizer step (never once per
micro-batch, so gradient accumulation stays correct), and building the optimizer. A subclass
writes its `training_step` and, when it needs other groups, `param_groups`.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from torch import nn

from headstart.config import Config
from headstart.data.views import recipes
from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone
from headstart.train.optim import build_optimizer
from headstart.train.schedule import at, warmup_cosine

log = logging.getLogger("headstart")


class Plan(Config):
    """What the command decided for this run (resolved values, not user input)."""

    total_steps: int
    batch_size: int              # per process
    image_size: int
    lr: float                    # absolute, after batch scaling
    weight_decay: float
    seed: int = 0
    channels_last: bool = True
    skip_nonfinite: int = 0      # steps with a NaN/Inf loss that may be skipped before stopping


class TrainSettings(Config):
    """How the base trains: optimizer, schedule shape, view recipe. Methods and fine-tuning
    subclass it with their own defaults and hyper-parameters."""

    optimizer: str = "adamw"     # adamw | lars | sgd
    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.01
    views: str = ""              # view recipe name; "" -> the module's `default_views`


class TrainingModule(L.LightningModule):
    """Base of every training module: `backbone`, `cfg` (a `TrainSettings`), `plan`."""

    default_views = "simclr"

    def __init__(self, backbone: Backbone, cfg: TrainSettings, plan: Plan) -> None:
        super().__init__()
        self.backbone = backbone
        self.cfg = cfg
        self.plan = plan
        self.recipe = self.view_recipe(cfg, plan)
        self._gen: torch.Generator | None = None
        self._skipped = 0
        self._pending_rng: torch.Tensor | None = None
        warm = int(plan.total_steps * cfg.warmup_fraction)
        self.lr_schedule = warmup_cosine(plan.lr, plan.lr * cfg.final_lr_fraction, plan.total_steps, warm)

    # --- what a subclass may override ---------------------------------------------------
    def after_optimizer_step(self) -> None:
        """Once per optimizer step, after it: EMA teachers, queues, centers."""

    def param_groups(self) -> list[nn.Module] | list[dict]:
        """What the optimizer updates: modules (split into decay / no-decay groups) or groups
        with their own `lr_scale`. Default: every child but EMA teachers."""
        return [m for name, m in self.named_children() if not name.startswith("teacher")]

    # --- views ----------------------------------------------------------------------------
    def view_recipe(self, cfg: TrainSettings, plan: Plan) -> recipes.ViewRecipe | None:
        """The augmentation recipe `make_views` applies; a module whose batches are used as they
        are (text token ids) returns None and overrides `make_views`."""
        return recipes.recipe(cfg.views or self.default_views, plan.image_size)

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

    # --- a bad step -------------------------------------------------------------------------
    def nonfinite(self, loss: torch.Tensor) -> None:
        """Skip the step (returning None skips backward and the optimizer) or stop with advice."""
        self._skipped += 1
        if self._skipped <= self.plan.skip_nonfinite:
            log.warning("loss is %s at step %d; step skipped (%d of %d allowed)",
                        loss.item(), self.global_step, self._skipped, self.plan.skip_nonfinite)
            return
        raise HeadstartError(
            f"training stopped: the loss became {loss.item()} at step {self.global_step}; the last good "
            "checkpoint is kept", fix="lower --lr, try --precision 32, or allow --skip-nonfinite N bad steps")

    # --- schedule and optimizer -------------------------------------------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        lr = at(self.lr_schedule, self.global_step)
        for group in self.optimizers().optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        self.log("train/lr", lr, on_step=True, on_epoch=False)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)  # Lightning calls this once per accumulated step
        self.after_optimizer_step()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.param_groups(), self.cfg.optimizer, self.plan.lr, self.plan.weight_decay)

    # --- the augmentation RNG through checkpoints ---------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._gen is not None:
            checkpoint["headstart_rng"] = self._gen.get_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "headstart_rng" in checkpoint:
            self._pending_rng = checkpoint["headstart_rng"]

    def on_train_start(self) -> None:
        if self._pending_rng is not None:
            self.generator().set_state(self._pending_rng)
            self._pending_rng = None
