"""`TextMethod`: the base of the text pretraining methods (mlm, next-token, simcse).

A text batch is already what the model reads: int64 token ids `(B, T)` (the attention mask is
`ids != pad_id`), so a text method takes it as it is (`view_recipe` is None, `make_views`
returns `[ids]`), and the training step, schedule, optimizer, non-finite handling and RNG in
checkpoints are the image methods' own (`Method` on `TrainingModule`).

Each method declares the data it trains on (`data`: "packed" fixed-length windows of the
corpus, or "documents" one per row) and the model kinds it trains (`kinds`: "encoder",
"decoder"); another model is refused in one line before anything is built. Methods with a
language-model head build it with `transformers`' own class for the backbone's config
(`AutoModelForMaskedLM` / `AutoModelForCausalLM`) around the backbone's base model, its output
embedding tied to the input one, so `lm_model()` is a `save_pretrained`-able model whose
base is exactly the exported backbone.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from transformers import MODEL_FOR_MASKED_LM_MAPPING, AutoConfig, PreTrainedModel, PreTrainedTokenizerFast
from transformers import logging as hf_logging

from headstart.errors import HeadstartError
from headstart.methods.base import Method, MethodConfig, Plan
from headstart.models.backbone import Backbone
from headstart.models.family import split_name
from headstart.models.text import TEXT_NETS, TextBackbone

KIND_OF_STYLE = {"bert": "encoder", "gpt": "decoder"}


class TextMethodConfig(MethodConfig):
    """What every text method has: rates per 256 sequences and the tokenizer trained when the
    model has none."""

    lr: float = Field(1e-3, description="AdamW learning rate per 256 sequences (scaled with the batch)")
    weight_decay: float = Field(0.01, description="AdamW weight decay (BERT's)")
    warmup_fraction: float = 0.06
    vocab_size: int = Field(8192, ge=300, description="tokenizer vocabulary when one is trained on the corpus")
    tokenizer: Literal["bpe", "wordpiece"] = Field("bpe", description="kind of tokenizer trained on the corpus")


class LMPretrainingConfig(TextMethodConfig):
    """A language-model objective (mlm, next-token): trained without dropout by default."""

    dropout: float | None = Field(
        0.0, ge=0, lt=1, description="dropout while pretraining (every dropout layer of the model); 0: none, as "
        "for compute-limited pretraining of about one pass over the corpus (Geiping & Goldstein 2023, "
        "'Cramming'), and faster on a CPU (attention runs the fused kernel); unset: the model's own. Fine-tuning "
        "uses the model's own either way")


class TextMethod(Method):
    """Base of the text methods; subclasses set `name`, `kinds`, `data`, `objective` and `loss`."""

    modality: ClassVar[str] = "text"
    config_cls: ClassVar[type[MethodConfig]] = TextMethodConfig
    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ("encoder", "decoder")
    data: ClassVar[Literal["packed", "documents"]] = "packed"
    objective: ClassVar[str | None] = None  # "mlm" | "next-token": the held-out perplexity it monitors

    def __init__(self, backbone: Backbone, cfg: TextMethodConfig, plan: Plan, *,
                 tokenizer: PreTrainedTokenizerFast) -> None:
        if not isinstance(backbone, TextBackbone):
            raise HeadstartError(f"--method {self.name} pretrains text models; {backbone.meta.name} is an image "
                                 "model", fix="use headstart/bert-mini, headstart/gpt-mini or hf:<local folder>")
        self.check_kind(backbone.kind, backbone.meta.name)
        super().__init__(backbone, cfg, plan)
        self.tokenizer = tokenizer
        self.special_ids = sorted(set(tokenizer.all_special_ids))

    @classmethod
    def check_kind(cls, kind: str, model: str) -> None:
        """One line when `model` (an "encoder" or "decoder") is not a kind this method trains."""
        if kind not in cls.kinds:
            other = {"encoder": "mlm", "decoder": "next-token"}[kind]
            article = "an" if kind == "encoder" else "a"
            raise HeadstartError(f"--method {cls.name} trains {' or '.join(cls.kinds)} models; {model} is {article} "
                                 f"{kind}",
                                 fix=f"use --method {other} or simcse with {model}, or another --model")

    # --- the batch as it is ----------------------------------------------------------------
    def view_recipe(self, cfg: TextMethodConfig, plan: Plan) -> None:
        return None

    def make_views(self, ids: torch.Tensor) -> list[torch.Tensor]:
        return [ids.long()]

    def param_groups(self) -> list[torch.nn.Module]:
        return [self]  # one module: a head tied to the input embedding is one parameter, counted once

    # --- the language model ------------------------------------------------------------------
    def lm_logits(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits `(B, T, V)` of the method's language-model head (mlm, next-token)."""
        raise HeadstartError(f"--method {self.name} has no language-model head")

    def lm_model(self) -> PreTrainedModel:
        """The model to `save_pretrained`: the LM (base + head) or, without a head, the base model."""
        return self.backbone.module


def set_dropout(module: torch.nn.Module, p: float | None) -> None:
    """Every `nn.Dropout` of `module` (BERT's attention reads its own layer's p) to `p`; None: unchanged.
    The model's config keeps its rates, so the exported model fine-tunes with its own dropout."""
    if p is None:
        return
    for m in module.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p


def model_kind(model: str) -> str:
    """"encoder" or "decoder" for a text model name, from its config alone (no weights read)."""
    family, net = split_name(model)
    if family == "headstart":
        return KIND_OF_STYLE[TEXT_NETS[net]]
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(net, local_files_only=True)
    finally:
        hf_logging.set_verbosity(quiet)
    return "encoder" if type(config) in MODEL_FOR_MASKED_LM_MAPPING else "decoder"  # TextBackbone's rule


def build_lm(backbone: TextBackbone, auto_cls: type) -> tuple[PreTrainedModel, torch.nn.Module]:
    """`auto_cls` (`AutoModelForMaskedLM`/`AutoModelForCausalLM`) for the backbone's config, whose
    base model IS the backbone's module (shared, not copied) and whose output embedding is tied to
    the input one where the config says so. Returns (lm, head). From an `hf:` folder the head's own
    weights are read too (continued pretraining keeps the checkpoint's head)."""
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the base weights loaded twice / a folder without head: expected
    try:
        if backbone.meta.family == "hf":
            lm = auto_cls.from_pretrained(split_name(backbone.meta.name)[1], local_files_only=True)
        else:
            lm = auto_cls.from_config(backbone.module.config)
    except ValueError as err:
        raise HeadstartError(f"{backbone.meta.name} has no {auto_cls.__name__[9:]} class in transformers: {err}",
                             fix="use another --method or --model") from None
    finally:
        hf_logging.set_verbosity(quiet)
    setattr(lm, lm.base_model_prefix, backbone.module)
    lm.tie_weights()
    heads = [child for name, child in lm.named_children() if name != lm.base_model_prefix]
    if len(heads) != 1:
        raise HeadstartError(f"cannot find the language-model head of {type(lm).__name__}",
                             fix="use headstart/bert-mini, headstart/gpt-mini or a BERT/Llama-style checkpoint")
    return lm, heads[0]
