"""`CausalLM`: a decoder language model as the strategies see a model — a `backbone` (the
`TextBackbone` over the base decoder, e.g. `LlamaModel`) and a `head` (the LM head, tied to the
input embedding where the config says so) — so `full`, `lora`, `qlora` and `freeze` adapt it with
the same code as a classifier. `hf_model()` is the `transformers` `*ForCausalLM` around the current
backbone: what `generate` runs and `save_pretrained` writes (after `Strategy.finish` merged the
adapters, plain weights).

A start is a run folder with `exported/hf/` (a next-token pretraining run, or an instruct run),
`hf:<local folder>`, or a built-in decoder from scratch (`headstart/gpt-mini`, sized to the tokenizer).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import MODEL_FOR_MASKED_LM_MAPPING, AutoConfig, AutoModelForCausalLM, PreTrainedModel
from transformers import logging as hf_logging

from headstart.errors import HeadstartError
from headstart.models.family import split_name
from headstart.models.hf_folder import check_hf_folder
from headstart.models.text import TEXT_NETS, TextBackbone, default_ids, ids_of, mini_config
from headstart.run import Run


class CausalLM(nn.Module):
    """Token ids `(B, T)` and attention mask -> next-token logits `(B, T, V)`."""

    def __init__(self, lm: PreTrainedModel, *, name: str, family: str) -> None:
        super().__init__()
        pad_id = lm.config.pad_token_id if lm.config.pad_token_id is not None else lm.config.eos_token_id
        if isinstance(pad_id, list):
            pad_id = pad_id[0]
        if pad_id is None:
            raise HeadstartError(f"{name} has neither a pad nor an eos token id", fix="set pad_token_id in its "
                                 "config.json")
        self.backbone = TextBackbone(getattr(lm, lm.base_model_prefix), name=name, family=family, pad_id=int(pad_id))
        self.head = lm.get_output_embeddings()
        self.classes: list[str] = []
        self._lm = (lm,)  # not a child: its modules are `backbone.module` and `head`

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = (ids != self.backbone.pad_id).long() if mask is None else mask
        states = self.backbone.module(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, D)
        return self.head(states)  # (B, T, V)

    def hf_model(self) -> PreTrainedModel:
        """The `*ForCausalLM` whose base model is the current (merged) backbone module."""
        lm = self._lm[0]
        setattr(lm, lm.base_model_prefix, self.backbone.module)
        if getattr(lm.config, "tie_word_embeddings", False):
            lm.tie_weights()
        return lm


def load_causal_lm(source: str, *, tokenizer=None, model: str = "auto") -> CausalLM:
    """The start of instruction tuning or alignment (see module doc).

    Args:
        source: a run folder, `hf:<folder>`, or `scratch` (then `model` names a built-in decoder).
        tokenizer: sizes a model from scratch.
        model: the model name for `scratch`.
    """
    if source == "scratch":
        family, net = split_name(model) if model != "auto" else ("", "")
        if family != "headstart" or TEXT_NETS.get(net) != "gpt":
            raise HeadstartError(f"--from scratch needs a built-in decoder --model, not {model}",
                                 fix="pass --model headstart/gpt-mini")
        ids = ids_of(tokenizer) if tokenizer is not None else default_ids("gpt")
        return CausalLM(AutoModelForCausalLM.from_config(mini_config(net, ids)), name=model, family="headstart")
    family, folder = split_name(source) if source.startswith("hf:") else ("run", source)
    if family == "hf":
        check_hf_folder(Path(folder))
        return CausalLM(_read(Path(folder)), name=source, family="hf")
    run = Run(Path(source))
    hf = run.exported / "hf"
    if not Path(source).is_dir() or not (hf / "config.json").is_file():
        raise HeadstartError(f"--from {source} is not a finished text run (no exported/hf/)",
                             fix="pass a next-token pretraining run, an instruct run, hf:<folder> or scratch")
    name = run.model_name
    return CausalLM(_read(hf), name=name, family=split_name(name)[0])


def _read(folder: Path) -> PreTrainedModel:
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    finally:
        hf_logging.set_verbosity(quiet)
    if type(config) in MODEL_FOR_MASKED_LM_MAPPING:  # TextBackbone's rule: an encoder
        raise HeadstartError(f"{folder} holds an encoder (masked LM), not a decoder",
                             fix="instruction tuning needs a causal LM: a next-token run or a decoder checkpoint")
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return AutoModelForCausalLM.from_pretrained(folder, config=config, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise HeadstartError(f"cannot load a causal LM from {folder}: {err}",
                             fix="pass a folder written by save_pretrained") from None
    finally:
        hf_logging.set_verbosity(quiet)
