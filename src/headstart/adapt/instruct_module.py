"""LightningModules of language-model adaptation: `InstructModule` (supervised fine-tuning on the
answer tokens) and `PreferenceModule` (DPO / IPO against reference log-probs computed once).

Both stand on the training base (`train.module.TrainingModule`: warm-up + cosine LR per group,
non-finite handling, RNG in checkpoints) with the strategy's hooks (`StrategyHooks`: freezing,
layer-wise decay); a batch is `(ids, labels, mask, index)` from `PadCollate`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from headstart.adapt.causal_lm import CausalLM
from headstart.adapt.preference import preference_loss, sequence_logps
from headstart.adapt.strategies.base import Strategy
from headstart.adapt.strategy_hooks import StrategyHooks
from headstart.data.text.instruct import IGNORE
from headstart.train.module import Plan, TrainingModule, TrainSettings


class InstructSettings(TrainSettings):
    """What the module needs besides the `Plan`."""

    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.0
    backbone_lr_mult: float = 1.0
    layer_decay: float = 1.0
    beta: float = 0.1  # preference loss only
    method: str = "dpo"  # preference loss only
    sft_weight: float = 0.0  # preference loss only: weight of the chosen answers' NLL


class InstructModule(StrategyHooks, TrainingModule):
    """Cross-entropy of the next token on the assistant's tokens only (labels -100 elsewhere)."""

    def __init__(self, model: CausalLM, strategy: Strategy, cfg: InstructSettings, plan: Plan) -> None:
        super().__init__(model.backbone, cfg, plan)
        self.head = model.head
        self.strategy = strategy
        self._model = (model,)  # not a child: its parameters are `backbone` and `head`

    def view_recipe(self, cfg: InstructSettings, plan: Plan) -> None:
        return None  # token ids are read as they are

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._model[0](ids, mask)  # (B, T, V)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor | None:
        ids, labels, mask, _ = batch
        logits = self(ids, mask)
        loss = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE)
        if not torch.isfinite(loss):
            return self.nonfinite(loss)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=ids.shape[0])
        return loss

    def adapted(self) -> CausalLM:
        return self._model[0]

    def param_groups(self) -> list[dict]:
        """The strategy's groups, each parameter once: a head tied to the input embedding is one tensor."""
        seen: set[int] = set()
        out = []
        for group in super().param_groups():
            params = [p for p in group["params"] if id(p) not in seen and not seen.add(id(p))]
            if params:
                out.append({**group, "params": params})
        return out


class PreferenceModule(InstructModule):
    """DPO (or IPO) on `(chosen, rejected)` rows; `reference` `(N, 2)` holds the reference model's summed
    answer log-probs of every training pair (the start model's, computed once: no second model in memory)."""

    def __init__(self, model: CausalLM, strategy: Strategy, cfg: InstructSettings, plan: Plan, *,
                 reference: torch.Tensor) -> None:
        super().__init__(model, strategy, cfg, plan)
        self.register_buffer("reference", reference.float(), persistent=False)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor | None:
        ids, labels, mask, index = batch  # (2B, T) x3: chosen rows, then rejected; index (B,)
        logps, tokens = sequence_logps(self(ids, mask), labels)
        chosen, rejected = logps.chunk(2)
        n_chosen, n_rejected = tokens.chunk(2)
        ref = self.reference[index]  # (B, 2)
        loss, stats = preference_loss(chosen, rejected, ref[:, 0], ref[:, 1], beta=self.cfg.beta,
                                      method=self.cfg.method, chosen_tokens=n_chosen, rejected_tokens=n_rejected,
                                      sft_weight=self.cfg.sft_weight)
        if not torch.isfinite(loss):
            return self.nonfinite(loss)
        b = index.shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=b)
        self.log("train/reward_acc", stats["accuracy"], prog_bar=True, on_step=True, on_epoch=True, batch_size=b)
        self.log("train/reward_margin", stats["margin"], on_step=True, on_epoch=True, batch_size=b)
        return loss
