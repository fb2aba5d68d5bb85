"""`freeze`: the first K layer groups stay frozen; optionally one more thaws every N epochs.

Gradual unfreezing from the top (Howard & Ruder 2018, "Universal Language Model Fine-tuning",
ULMFiT, arXiv:1801.06146): the groups nearest the output thaw first, so the earliest, most
general features change last. Groups are the backbone's `layer_groups()` (stem, stages or
blocks, final norm). Combine with `--layer-decay` / `--backbone-lr-mult` for lower LRs below.
"""

from __future__ import annotations

import logging

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Context, Strategy, set_trainable
from headstart.errors import HeadstartError

log = logging.getLogger("headstart")


class Freeze(Strategy):
    name = "freeze"

    def prepare(self, model: Classifier, ctx: Context) -> None:
        groups = model.backbone.layer_groups()
        k = self.cfg.freeze_blocks if self.cfg.freeze_blocks is not None else len(groups) // 2
        if k > len(groups):
            raise HeadstartError(
                f"--freeze-blocks {k} but {model.backbone.meta.name} has {len(groups)} layer groups",
                fix=f"pass --freeze-blocks between 0 and {len(groups)}",
            )
        self.k = k
        self.frozen_at_start = k
        self.apply(model, k)

    def frozen_at(self, epoch: int) -> int:
        """Groups still frozen at `epoch`: K, then one fewer every `unfreeze_every` epochs."""
        every = self.cfg.unfreeze_every
        return self.k if not every else max(0, self.k - epoch // every)

    def on_epoch_start(self, model: Classifier, epoch: int) -> None:
        frozen = self.frozen_at(epoch)
        if frozen != self.frozen_at_start:
            log.info(
                "epoch %d: %d of %d layer groups frozen", epoch, frozen, len(model.backbone.layer_groups())
            )
            self.frozen_at_start = frozen
        self.apply(model, frozen)

    @staticmethod
    def apply(model: Classifier, frozen: int) -> None:
        for i, params in enumerate(model.backbone.layer_groups()):
            set_trainable(params, i >= frozen)
