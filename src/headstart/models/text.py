"""Text backbones: Hugging Face `transformers` models built from configs, behind `Backbone`.

- `headstart/bert-mini`: a BERT encoder (4 layers, width 256, 4 heads, MLP 1024; ~5.4M
  parameters with an 8192-token vocabulary), for masked-language modelling;
- `headstart/gpt-mini`: a Llama-style decoder (rotary positions, RMSNorm, SwiGLU MLP 704 so
  its size matches bert-mini's), for next-token prediction;
- `hf:<folder>`: any local Hugging Face checkpoint (`save_pretrained` folder), read with
  `local_files_only`; a name is never looked up on the hub.

A `TextBackbone` takes int64 token ids `(B, T)` padded with `pad_id` (the `TextSet` batch,
whose padding is exactly `ids == pad_id`) and returns the mean of the last hidden states over
the real tokens, `(B, D)`: the sentence embedding the heads, kNN and curation use.
`module` is the plain `transformers` base model (`BertModel`, `LlamaModel`, ...), so
`module.save_pretrained` is what `AutoModel.from_pretrained` loads without headstart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import (
    MODEL_FOR_MASKED_LM_MAPPING,
    AutoModel,
    BertConfig,
    BertModel,
    LlamaConfig,
    LlamaModel,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)
from transformers import logging as hf_logging

from headstart.data.text.tokenizer import SPECIAL_TOKENS
from headstart.data.text.tokens import pad_id_of
from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone, BackboneMeta
from headstart.models.hf_folder import check_hf_folder

hf_logging.disable_progress_bar()  # "Loading weights" / "Writing model shards" bars: headstart shows its own progress

TEXT_NETS = {"bert-mini": "bert", "gpt-mini": "gpt"}  # net -> special-token style of its tokenizer
DEFAULT_VOCAB = 8192  # `train_tokenizer`'s default, for a net built without a tokenizer
MAX_POSITIONS = 512


@dataclass(frozen=True)
class TokenIds:
    """What a model must agree on with its tokenizer."""

    vocab_size: int
    pad_id: int
    bos_id: int | None = None
    eos_id: int | None = None
    max_positions: int = MAX_POSITIONS


def ids_of(tokenizer: PreTrainedTokenizerFast) -> TokenIds:
    """The vocabulary size and special ids of `tokenizer`."""
    longest = min(MAX_POSITIONS, int(tokenizer.model_max_length or MAX_POSITIONS))
    return TokenIds(vocab_size=len(tokenizer), pad_id=pad_id_of(tokenizer), bos_id=tokenizer.bos_token_id,
                    eos_id=tokenizer.eos_token_id, max_positions=longest)


def default_ids(style: str, vocab_size: int = DEFAULT_VOCAB) -> TokenIds:
    """The ids `train_tokenizer(style=style)` gives: its special tokens come first, in order."""
    position = {name: i for i, name in enumerate(SPECIAL_TOKENS[style])}
    return TokenIds(vocab_size=vocab_size, pad_id=position["pad_token"],
                    bos_id=position.get("bos_token"), eos_id=position.get("eos_token"))


def mini_config(net: str, ids: TokenIds) -> PretrainedConfig:
    """The `transformers` config of a built-in net, sized to `ids`' vocabulary."""
    if net == "bert-mini":
        return BertConfig(vocab_size=ids.vocab_size, hidden_size=256, num_hidden_layers=4,
                          num_attention_heads=4, intermediate_size=1024,
                          max_position_embeddings=ids.max_positions, pad_token_id=ids.pad_id)
    return LlamaConfig(vocab_size=ids.vocab_size, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                       num_key_value_heads=4, intermediate_size=704,
                       max_position_embeddings=ids.max_positions, pad_token_id=ids.pad_id,
                       bos_token_id=ids.bos_id, eos_token_id=ids.eos_id, tie_word_embeddings=True)


def create_text_backbone(name: str, *, tokenizer: PreTrainedTokenizerFast | None = None) -> TextBackbone:
    """A text backbone with fresh weights (`headstart/...`) or a local checkpoint's (`hf:<folder>`).

    Args:
        name: `headstart/bert-mini`, `headstart/gpt-mini` or `hf:<folder>`.
        tokenizer: sizes a built-in net's vocabulary and special ids; default: those of
            `train_tokenizer`'s defaults. Ignored for `hf:` (the checkpoint's config decides).

    Example:
        >>> backbone = create_text_backbone("headstart/bert-mini", tokenizer=tok)
        >>> backbone(ids).shape   # ids (B, T) -> (B, 256)
    """
    family, _, model = name.replace(":", "/", 1).partition("/")
    if family == "hf":
        return load_hf_backbone(model)
    if family != "headstart" or model not in TEXT_NETS:
        raise HeadstartError(f"unknown text model {name!r}",
                             fix="use headstart/bert-mini, headstart/gpt-mini or hf:<local folder>")
    ids = ids_of(tokenizer) if tokenizer is not None else default_ids(TEXT_NETS[model])
    config = mini_config(model, ids)
    module = BertModel(config, add_pooling_layer=False) if model == "bert-mini" else LlamaModel(config)
    return TextBackbone(module, name=name, family="headstart", pad_id=ids.pad_id)


def load_hf_backbone(folder: str | os.PathLike) -> TextBackbone:
    """The base model of a local Hugging Face checkpoint (a `*ForMaskedLM` / `*ForCausalLM` folder
    gives its encoder or decoder), weights included."""
    path = Path(folder)
    check_hf_folder(path)
    verbosity = hf_logging.get_verbosity()
    # a *ForMaskedLM / *ForCausalLM folder read as its base model leaves its LM head unused: expected,
    # so transformers' table of unused and new tensors is noise here
    hf_logging.set_verbosity_error()
    try:
        module = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise HeadstartError(f"cannot load the Hugging Face model in {path}: {err}",
                             fix="pass a folder written by save_pretrained") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    if getattr(module, "pooler", None) is not None:
        module.pooler = None  # BERT's [CLS] pooler: unused by mean pooling, and unused weights stall DDP
    pad_id = module.config.pad_token_id
    pad_id = module.config.eos_token_id if pad_id is None else pad_id
    if isinstance(pad_id, list):
        pad_id = pad_id[0]
    if pad_id is None:
        raise HeadstartError(f"the model in {path} has neither a pad nor an eos token id",
                             fix="set pad_token_id in its config.json")
    return TextBackbone(module, name=f"hf:{folder}", family="hf", pad_id=int(pad_id))


class TextBackbone(Backbone):
    """Sentence embeddings `(B, D)` from token ids `(B, T)`; `module` is the `transformers` base model."""

    def __init__(self, module: PreTrainedModel, *, name: str, family: str, pad_id: int) -> None:
        config = module.config
        is_encoder = type(config) in MODEL_FOR_MASKED_LM_MAPPING
        longest = int(getattr(config, "max_position_embeddings", MAX_POSITIONS))
        meta = BackboneMeta(name=name, family=family, feature_dim=int(config.hidden_size), in_chans=1,
                            default_size=longest,
                            extra={"modality": "text", "kind": "encoder" if is_encoder else "decoder",
                                   "pad_id": pad_id, "vocab_size": int(config.vocab_size)})
        super().__init__(module, meta, _layer_groups)
        self.pad_id = pad_id

    @property
    def kind(self) -> str:
        """"encoder" (bidirectional, masked LM) or "decoder" (causal LM)."""
        return self.meta.extra["kind"]

    def attention_mask(self, ids: torch.Tensor) -> torch.Tensor:
        return (ids != self.pad_id).long()  # (B, T)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.long()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.attention_mask(x)
        states = self.forward_features(x)  # (B, T, D)
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)  # (B, D)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden states `(B, T, D)`, padding positions included."""
        ids = self.prepare(x)
        return self.module(input_ids=ids, attention_mask=self.attention_mask(ids)).last_hidden_state


def _layer_groups(m: nn.Module) -> list[list[nn.Module | nn.Parameter]]:
    """Embeddings, then each transformer block (the model's largest `ModuleList`); the rest (final
    norm) joins the last group (`Backbone.layer_groups` adds what is not named here)."""
    lists = [c for c in m.modules() if isinstance(c, nn.ModuleList) and len(c)]
    if not lists:
        return [[m]]
    blocks = max(lists, key=lambda c: sum(p.numel() for p in c.parameters()))
    embeddings = [c for name, c in m.named_modules() if "emb" in name.rpartition(".")[2]
                  and not any(c is b or _inside(c, b) for b in blocks)]
    return [embeddings, *[[block] for block in blocks]]


def _inside(child: nn.Module, block: nn.Module) -> bool:
    return any(child is c for c in block.modules())
