"""MLM: BERT's masked-language modelling (Devlin et al. 2019, arXiv:1810.04805).

15% of the real tokens of each packed window are chosen; 80% of them become [MASK], 10% a
random token, 10% stay; the loss is the cross-entropy of the original token at the chosen
positions only. The head is `transformers`' own (`BertForMaskedLM`'s `cls` for a BERT), its
decoder tied to the input embedding, and is applied to the chosen positions only: the other
85% of the vocabulary projections would be thrown away.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from transformers import AutoModelForMaskedLM, PreTrainedModel, PreTrainedTokenizerFast

from headstart.data.text.masking import IGNORE, mask_tokens
from headstart.errors import HeadstartError
from headstart.methods.base import Plan
from headstart.methods.text import LMPretrainingConfig, TextMethod, build_lm, set_dropout
from headstart.models.text import TextBackbone


class MLMConfig(LMPretrainingConfig):
    mask_rate: float = Field(0.15, gt=0, lt=1, description="share of the tokens chosen for the loss (BERT: 0.15)")


class MLM(TextMethod):
    name = "mlm"
    config_cls = MLMConfig
    kinds = ("encoder",)
    data = "packed"
    objective = "mlm"

    def __init__(self, backbone: TextBackbone, cfg: MLMConfig, plan: Plan, *,
                 tokenizer: PreTrainedTokenizerFast) -> None:
        super().__init__(backbone, cfg, plan, tokenizer=tokenizer)
        if tokenizer.mask_token_id is None:
            raise HeadstartError("--method mlm needs a tokenizer with a mask token",
                                 fix="let headstart train one (drop the model's tokenizer) or use --method next-token")
        self.mask_id = int(tokenizer.mask_token_id)
        self.vocab_size = int(backbone.module.config.vocab_size)
        lm, self.head = build_lm(backbone, AutoModelForMaskedLM)
        set_dropout(lm, cfg.dropout)
        self._lm = (lm,)  # not a child: its modules are `backbone.module` and `head`, registered already

    def mask(self, ids: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(ids, mask_id=self.mask_id, vocab_size=self.vocab_size, special_ids=self.special_ids,
                           generator=generator, rate=self.cfg.mask_rate)

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, labels = self.mask(views[0], self.generator())
        states = self.backbone.forward_features(inputs)          # (B, T, D)
        chosen = labels != IGNORE                                  # (B, T)
        logits = self.head(states[chosen])                         # (M, V): the chosen positions only
        loss = F.cross_entropy(logits.float(), labels[chosen])
        return loss, {"masked": float(chosen.sum())}

    def lm_logits(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_features(ids))

    def lm_model(self) -> PreTrainedModel:
        return self._lm[0]
