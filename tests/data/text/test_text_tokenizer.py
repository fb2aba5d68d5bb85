"""Tokenizers trained here: round trips on real text, special tokens, folders transformers loads offline."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from headstart.data.text.tokenizer import (
    load_tokenizer,
    save_tokenizer,
    separator_id,
    special_ids,
    train_tokenizer,
)
from headstart.errors import HeadstartError


def squash(text: str) -> str:
    return "".join(text.split())


def test_train_tokenizer__byte_bpe_round_trip_is_exact_in_eight_languages(bpe, lang_test):
    sample = [lang_test.texts[i] for i in range(0, len(lang_test), 37)]  # ~500 texts, every language
    assert len({lang_test.labels[i] for i in range(0, len(lang_test), 37)}) == 8
    encoded = bpe(sample)["input_ids"]
    assert [bpe.decode(ids, skip_special_tokens=True) for ids in encoded] == sample
    assert all(ids[0] == bpe.cls_token_id and ids[-1] == bpe.sep_token_id for ids in encoded)
    assert bpe.unk_token_id not in {i for ids in encoded for i in ids}  # every byte has a token


def test_train_tokenizer__bpe_compresses_english_held_out_text(bpe, topic_test):
    text = " ".join(topic_test.texts[:200])
    n = len(bpe(text, add_special_tokens=False)["input_ids"])
    assert len(bpe) == 2000 and 2.5 < len(text) / n < 6  # characters per token with 2000 tokens


def test_train_tokenizer__wordpiece_keeps_every_character(topic_train, topic_test):
    tok = train_tokenizer(topic_train.texts, kind="wordpiece", vocab_size=3000, style="bert")
    decoded = [tok.decode(tok(t)["input_ids"], skip_special_tokens=True) for t in topic_test.texts[:300]]
    same = sum(squash(d) == squash(t) for d, t in zip(decoded, topic_test.texts[:300]))
    assert same >= 290  # the rest hold a character no training text had, which becomes [UNK]
    assert len(tok) == 3000 and tok.convert_ids_to_tokens(tok("unbelievable")["input_ids"])[0] == "[CLS]"


def test_train_tokenizer__gpt_style_starts_with_bos_and_separates_with_eos(topic_train):
    tok = train_tokenizer(topic_train.texts[:500], vocab_size=400, style="gpt")
    prefix, suffix = special_ids(tok)
    assert prefix == [tok.bos_token_id] and suffix == [] and separator_id(tok) == tok.eos_token_id
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3 and tok.mask_token is None


def test_save_tokenizer__auto_tokenizer_loads_it_offline_with_the_same_ids(bpe, topic_test, tmp_path):
    folder = save_tokenizer(bpe, tmp_path / "tok")
    assert sorted(p.name for p in folder.iterdir()) == ["special_tokens_map.json", "tokenizer.json",
                                                          "tokenizer_config.json"]
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    loaded = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    texts = topic_test.texts[:50]
    assert loaded(texts)["input_ids"] == bpe(texts)["input_ids"]
    assert loaded.mask_token == "[MASK]" and loaded.pad_token_id == bpe.pad_token_id
    assert loaded.model_max_length == 512
    assert load_tokenizer(folder)(texts[0])["input_ids"] == bpe(texts[0])["input_ids"]
    assert [p.name for p in tmp_path.iterdir()] == ["tok"]  # no temporary folder left behind


def test_load_tokenizer__a_hub_name_is_never_downloaded(tmp_path):
    with pytest.raises(HeadstartError, match=r"^no tokenizer folder at bert-base-uncased — .*never"):
        load_tokenizer("bert-base-uncased")
    with pytest.raises(HeadstartError, match="holds no tokenizer"):
        load_tokenizer(tmp_path)


def test_train_tokenizer__bad_options_are_one_line_errors(topic_train):
    with pytest.raises(HeadstartError, match="vocab_size 100 is too small — use at least 300"):
        train_tokenizer(topic_train.texts[:10], vocab_size=100)
    with pytest.raises(HeadstartError, match="unknown tokenizer kind 'unigram' — use one of: bpe, word"):
        train_tokenizer(topic_train.texts[:10], kind="unigram")
