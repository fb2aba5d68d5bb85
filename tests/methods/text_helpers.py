"""Shared by the text method tests: real fortunes text, a small tokenizer trained on it, and a text
method built as `headstart pretrain` builds it."""

from __future__ import annotations

import functools

import torch

from headstart.config import parse
from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.textset import TextSet, tokenize_corpus
from headstart.data.text.tokenizer import train_tokenizer
from headstart.methods import method_class
from headstart.methods.text import TextMethod
from headstart.models.text import create_text_backbone
from headstart.train.module import Plan

STYLE = {"headstart/bert-mini": "bert", "headstart/gpt-mini": "gpt"}
VOCAB = 600


@functools.cache
def tokenizer(style: str):
    """Byte-level BPE with `VOCAB` tokens fit on the fortunes topic task's training texts."""
    return train_tokenizer(open_fortunes("fortunes-topic", split="train").texts, vocab_size=VOCAB, style=style)


@functools.cache
def documents(style: str, max_length: int = 32) -> TextSet:
    return tokenize_corpus(open_fortunes("fortunes-topic", split="train"), tokenizer=tokenizer(style),
                           max_length=max_length)


def batch(name: str, model: str, n: int, seq_len: int = 32) -> torch.Tensor:
    """`n` rows of what `name` trains on: packed windows, or documents padded to the longest."""
    docs = documents(STYLE[model], seq_len)
    data = docs.packed(seq_len) if method_class(name).data == "packed" else docs
    return data.__getitems__(list(range(n)))[0]


def data_for(name: str, model: str, seq_len: int = 32):
    docs = documents(STYLE[model], seq_len)
    return docs.packed(seq_len) if method_class(name).data == "packed" else docs


def build_text(name: str, *, model: str, steps: int = 100, batch_size: int = 16, seed: int = 0,
               **method_args) -> TextMethod:
    cls = method_class(name)
    cfg = parse(cls.config_cls, method_args)
    tok = tokenizer(STYLE[model])
    torch.manual_seed(seed)
    backbone = create_text_backbone(model, tokenizer=tok)
    plan = Plan(total_steps=steps, batch_size=batch_size, image_size=0, lr=cfg.lr * batch_size / 256,
                weight_decay=cfg.weight_decay, channels_last=False)
    return cls(backbone, cfg, plan, tokenizer=tok)


def losses_on(method: TextMethod, ids: torch.Tensor, *, steps: int, lr: float) -> list[float]:
    """A plain loop: `steps` AdamW steps on the same batch; the loss before each step."""
    method._gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(method.parameters(), lr=lr)
    out = []
    for _ in range(steps):
        loss, _ = method.loss(method.make_views(ids))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out
