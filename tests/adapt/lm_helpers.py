"""Tiny causal LMs and tokenizers on real fortunes text for the language-model adaptation tests."""

from __future__ import annotations

from functools import lru_cache

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from headstart.adapt.causal_lm import CausalLM
from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.instruct import with_chat_template
from headstart.data.text.tokenizer import train_tokenizer


@lru_cache(maxsize=1)
def tokenizer():
    """Byte-level BPE (gpt style, 1000 tokens) on real English fortunes, with the chat template."""
    return with_chat_template(train_tokenizer(open_fortunes("fortunes-topic", split="train").texts[:1500],
                                              vocab_size=1000, style="gpt"))


def tiny_lm(seed: int = 0, width: int = 64) -> CausalLM:
    """A 2-layer Llama (tied embeddings) sized to `tokenizer()`, random weights."""
    tok = tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=width, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=4, intermediate_size=2 * width, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    return CausalLM(LlamaForCausalLM(config), name="tiny-llama", family="hf")
