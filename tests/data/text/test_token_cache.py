"""The token cache: computed once, reused, memory-mapped, compact, written whole or not at all."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from tokenizers import Tokenizer

from headstart.data.text import tokens
from headstart.data.text.tokenizer import train_tokenizer
from headstart.data.text.tokens import dtype_for, open_cached, tokenize_cached


def test_tokenize_cached__ids_match_the_tokenizer_and_are_uint16(bpe, topic_test, tmp_path):
    arrays = tokenize_cached(topic_test.texts, tokenizer=bpe, cache_dir=tmp_path)
    assert isinstance(arrays.ids, np.memmap) and arrays.ids.dtype == np.uint16
    assert len(arrays.offsets) == len(topic_test) + 1 and arrays.offsets[-1] == len(arrays.ids)
    for i in (0, 17, len(topic_test) - 1):
        own = bpe(topic_test.texts[i], add_special_tokens=False)["input_ids"]
        assert arrays.ids[arrays.offsets[i]:arrays.offsets[i + 1]].tolist() == own
    assert os.path.getsize(arrays.folder / "ids.bin") == 2 * len(arrays.ids)


def test_tokenize_cached__second_open_reads_the_cache(bpe, topic_test, tmp_path, monkeypatch):
    first = tokenize_cached(topic_test.texts, tokenizer=bpe, cache_dir=tmp_path)
    stamp = os.stat(first.folder / "ids.bin").st_mtime_ns
    calls = []
    monkeypatch.setattr(tokens, "_build", lambda *a: calls.append(a))
    second = tokenize_cached(list(topic_test.texts), tokenizer=bpe, cache_dir=tmp_path)
    assert calls == [] and second.folder == first.folder
    assert os.stat(second.folder / "ids.bin").st_mtime_ns == stamp
    assert np.array_equal(second.ids, first.ids) and np.array_equal(second.offsets, first.offsets)


def test_tokenize_cached__other_text_or_tokenizer_is_another_cache(bpe, topic_train, topic_test, tmp_path):
    base = tokenize_cached(topic_test.texts, tokenizer=bpe, cache_dir=tmp_path).folder
    edited = tokenize_cached([*topic_test.texts[:-1], topic_test.texts[-1] + "!"], tokenizer=bpe,
                             cache_dir=tmp_path).folder
    other = train_tokenizer(topic_train.texts[:300], vocab_size=500)
    retokenized = tokenize_cached(topic_test.texts, tokenizer=other, cache_dir=tmp_path).folder
    assert len({base, edited, retokenized}) == 3


def test_tokenize_cached__an_interrupted_build_leaves_nothing(bpe, topic_test, tmp_path, monkeypatch):
    class Flaky:
        """The real tokenizer, interrupted (as by Ctrl-C) at its third batch."""

        def __init__(self, real):
            self.real, self.calls = real, 0

        def __getattr__(self, name):
            return getattr(self.real, name)

        def encode_batch(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.real.encode_batch(*args, **kwargs)

    monkeypatch.setattr(tokens, "BATCH", 100)
    monkeypatch.setattr(tokens, "Tokenizer", SimpleNamespace(from_str=lambda s: Flaky(Tokenizer.from_str(s))))
    with pytest.raises(KeyboardInterrupt):
        tokenize_cached(topic_test.texts, tokenizer=bpe, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_tokenize_cached__a_literal_pad_token_never_enters_a_document(bpe, tmp_path):
    arrays = tokenize_cached(["keep [PAD] this", "[PAD]"], tokenizer=bpe, cache_dir=tmp_path)
    assert bpe.pad_token_id not in arrays.ids.tolist()
    assert arrays.lengths.tolist()[1] == 0
    assert open_cached(arrays.folder).lengths.tolist() == arrays.lengths.tolist()


def test_dtype_for__uint32_above_65536_tokens():
    assert dtype_for(65536) == np.uint16 and dtype_for(65537) == np.uint32
