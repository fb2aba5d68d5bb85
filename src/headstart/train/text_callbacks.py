"""Callbacks of text pretraining: tokens/s in the progress line and metrics.csv, and the online
monitor (held-out perplexity, and kNN accuracy of the sentence embeddings when labels exist).

The monitor measures at fixed optimizer steps (every `every` steps and at the last), in eval
mode, drawing its masks from its own seeded generator: it takes nothing from the training
RNG, so a resumed run trains exactly as an uninterrupted one, and its history travels in the
checkpoint.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from headstart.eval.features import extract_features
from headstart.eval.knn import knn_accuracy
from headstart.eval.perplexity import heldout_perplexity
from headstart.train.callbacks import Throughput


class TokenThroughput(Throughput):
    """Logs `tok_s`: real (non-padding) tokens per second, all devices, over the last micro-batch."""

    key = "tok_s"

    def __init__(self, pad_id: int) -> None:
        super().__init__()
        self.pad_id = pad_id

    def count(self, batch: Any) -> int:
        return int((batch[0] != self.pad_id).sum())


class TextMonitor(Callback):
    """Held-out perplexity (when the method has an LM objective) and kNN accuracy (when `bank` and
    `query`, labeled `TextSet`s, are given) every `every` optimizer steps and at the last."""

    def __init__(self, *, heldout: torch.Tensor | None, every: int, bank=None, query=None, k: int = 20,
                 seed: int = 0, batch_size: int = 64) -> None:
        self.heldout, self.every, self.bank, self.query = heldout, every, bank, query
        self.k, self.seed, self.batch_size = k, seed, batch_size
        self.history: list[dict[str, float | int | None]] = []

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, out: Any, batch: Any, idx: int) -> None:
        step = trainer.global_step
        due = step % self.every == 0 or step >= (trainer.max_steps or 0)
        if step == 0 or not due or (self.history and self.history[-1]["step"] == step):
            return  # under gradient accumulation a step ends several micro-batches: measure once
        row = {"step": step, **self.measure(module)}
        self.history.append(row)
        for key in ("perplexity", "knn"):
            if row[key] is not None:
                module.log(f"monitor/{key}", row[key], prog_bar=True, on_step=True, on_epoch=False,
                           rank_zero_only=True)

    @torch.no_grad()
    def measure(self, module: L.LightningModule) -> dict[str, float | None]:
        was_training = module.training
        module.eval()
        try:
            return {"perplexity": self.perplexity(module), "knn": self.knn(module)}
        finally:
            module.train(was_training)

    def perplexity(self, module: L.LightningModule) -> float | None:
        if self.heldout is None or module.objective is None:
            return None
        return heldout_perplexity(module.lm_logits, self.heldout, objective=module.objective,
                                  pad_id=module.backbone.pad_id, mask_id=getattr(module, "mask_id", None),
                                  vocab_size=getattr(module, "vocab_size", 0), special_ids=module.special_ids,
                                  seed=self.seed, batch_size=self.batch_size, device=module.device)

    def knn(self, module: L.LightningModule) -> float | None:
        if self.bank is None or self.query is None:
            return None
        fb, lb = extract_features(module.backbone, self.bank, batch_size=self.batch_size, device=module.device,
                                  progress=False)
        fq, lq = extract_features(module.backbone, self.query, batch_size=self.batch_size, device=module.device,
                                  progress=False)
        return knn_accuracy(fb, lb, fq, lq, k=self.k, num_classes=len(self.bank.classes))

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state.get("history", []))
