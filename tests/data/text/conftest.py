"""Fixtures for the text data tests: the real fortunes corpora and a small tokenizer trained on them."""

from __future__ import annotations

import pytest

from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def topic_train():
    return open_fortunes("fortunes-topic", split="train")


@pytest.fixture(scope="session")
def topic_test():
    return open_fortunes("fortunes-topic", split="test")


@pytest.fixture(scope="session")
def lang_test():
    return open_fortunes("fortunes-lang", split="test")


@pytest.fixture(scope="session")
def bpe(topic_train):
    """Byte-level BPE, BERT-style special tokens, 2000 tokens, fit on the topic task's training texts."""
    return train_tokenizer(topic_train.texts, kind="bpe", vocab_size=2000, style="bert")
