"""SimCSE, unsupervised (Gao, Yao & Chen 2021, "SimCSE: Simple Contrastive Learning of Sentence
Embeddings", arXiv:2104.08821): each document is encoded twice, the two dropout masks being
the only augmentation, and InfoNCE at temperature 0.05 pulls the two embeddings together
against the other documents of the batch. The embedding is the backbone's own (the mean of
the last hidden states over real tokens), the one kNN, the heads and curation use, so no
projection head is trained and thrown away (the paper's [CLS] + MLP variant is not used).
A decoder without dropout of its own (Llama's attention dropout is 0) gets `dropout` on its
attention while pretraining: without it both encodings would be identical.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from transformers import PreTrainedTokenizerFast

from headstart.methods.base import Plan
from headstart.methods.text import TextMethod, TextMethodConfig
from headstart.models.text import TextBackbone


class SimCSEConfig(TextMethodConfig):
    lr: float = Field(3e-4, description="AdamW learning rate per 256 documents")
    temperature: float = Field(0.05, gt=0, description="InfoNCE temperature (the paper's 0.05)")
    dropout: float = Field(0.1, ge=0, lt=1, description="attention dropout given to a model that has none")


class SimCSE(TextMethod):
    name = "simcse"
    config_cls = SimCSEConfig
    kinds = ("encoder", "decoder")
    data = "documents"

    def __init__(self, backbone: TextBackbone, cfg: SimCSEConfig, plan: Plan, *,
                 tokenizer: PreTrainedTokenizerFast) -> None:
        super().__init__(backbone, cfg, plan, tokenizer=tokenizer)
        has_dropout = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in backbone.module.modules())
        if not has_dropout:
            for m in backbone.module.modules():
                if getattr(m, "attention_dropout", None) == 0.0:  # Llama-style attention: read in forward
                    m.attention_dropout = cfg.dropout

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ids = views[0]
        z = F.normalize(self.backbone(torch.cat([ids, ids])).float(), dim=1)  # (2B, D): two dropout masks
        a, b = z.chunk(2)
        logits = a @ b.T / self.cfg.temperature                   # (B, B): the diagonal are the positives
        target = torch.arange(len(a), device=ids.device)
        loss = F.cross_entropy(logits, target)
        return loss, {"pos_sim": float(logits.detach().diagonal().mean() * self.cfg.temperature)}
