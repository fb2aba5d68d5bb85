"""Next-token prediction: the causal language-model loss of GPT (Radford et al. 2018) and Llama
(Touvron et al. 2023, arXiv:2302.13971) on packed windows: every position predicts the next
token. The head is `transformers`' own (`LlamaForCausalLM`'s `lm_head` for a Llama), tied to the
input embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from headstart.methods.base import Plan
from headstart.methods.text import LMPretrainingConfig, TextMethod, build_lm, set_dropout
from headstart.models.text import TextBackbone


class NextTokenConfig(LMPretrainingConfig):
    pass


class NextToken(TextMethod):
    name = "next-token"
    config_cls = NextTokenConfig
    kinds = ("decoder",)
    data = "packed"
    objective = "next-token"

    def __init__(self, backbone: TextBackbone, cfg: NextTokenConfig, plan: Plan, *,
                 tokenizer: PreTrainedTokenizerFast) -> None:
        super().__init__(backbone, cfg, plan, tokenizer=tokenizer)
        lm, self.head = build_lm(backbone, AutoModelForCausalLM)
        set_dropout(lm, cfg.dropout)
        self._lm = (lm,)  # not a child: its modules are `backbone.module` and `head`, registered already

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ids = views[0]
        logits = self.lm_logits(ids[:, :-1])                       # (B, T-1, V)
        target = ids[:, 1:].masked_fill(ids[:, 1:] == self.backbone.pad_id, -100)
        loss = F.cross_entropy(logits.float().flatten(0, 1), target.flatten())
        return loss, {}

    def lm_logits(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_features(ids))

    def lm_model(self) -> PreTrainedModel:
        return self._lm[0]
