"""TextSet batches (special tokens, cut, padding, mask), label subsets, and packed pretraining windows."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from headstart.data.imageset import collate
from headstart.data.subsets import label_subset, split_train_val
from headstart.data.text.textset import TextSet, tokenize_corpus
from headstart.errors import HeadstartError


@pytest.fixture(scope="module")
def topic_set(bpe, topic_train, tmp_path_factory) -> TextSet:
    cache = tmp_path_factory.mktemp("tok")
    return tokenize_corpus(topic_train, tokenizer=bpe, max_length=64, cache_dir=cache)


def test_textset__batch_has_special_tokens_cut_and_padding(topic_set, topic_train, bpe):
    idx = [0, 5, 9, 200]
    ids, labels = topic_set.__getitems__(idx)
    own = [bpe(topic_train.texts[i], add_special_tokens=False)["input_ids"] for i in idx]
    kept = [min(len(o), 62) for o in own]
    assert ids.dtype == torch.int64 and ids.shape == (4, max(kept) + 2)
    assert labels.tolist() == topic_train.labels[idx].tolist()
    mask = topic_set.attention_mask(ids)
    assert mask.sum(1).tolist() == [k + 2 for k in kept]
    for row, (o, k) in enumerate(zip(own, kept)):
        assert ids[row, :k + 2].tolist() == [bpe.cls_token_id, *o[:k], bpe.sep_token_id]
        assert (ids[row, k + 2:] == bpe.pad_token_id).all()


def test_textset__long_documents_are_cut_to_max_length(topic_set):
    longest = int(np.argmax(topic_set.lengths))
    assert topic_set.lengths[longest] > 64
    ids, _ = topic_set[longest]
    assert ids.shape == (64,) and ids[-1] == topic_set.suffix[0]


def test_textset__per_class_label_subset_works_unchanged(topic_set, topic_train):
    chosen = label_subset(topic_set.labels, per_class=10, seed=0, classes=topic_set.classes)
    small = topic_set.subset(chosen)
    assert len(small) == 120 and small.has_labels and small.num_classes == 12
    assert np.bincount(small.labels).tolist() == [10] * 12
    assert np.array_equal(small.document(3), topic_set.document(int(chosen[3])))
    train, val = split_train_val(np.arange(len(small)), small.labels, seed=0)
    assert len(train) + len(val) == 120 and len(val) == 24  # 2 of 10 per class
    loader = torch.utils.data.DataLoader(small, batch_size=32, shuffle=True, collate_fn=collate)
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == [32, 32, 32, 24] and all(b[0].shape[1] <= 64 for b in batches)
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == sorted(small.labels.tolist())


def test_packed__windows_are_the_documents_joined_by_the_separator(topic_set):
    head = topic_set.subset(np.arange(50))
    packed = head.packed(32)
    stream = np.concatenate([np.append(head.document(i), head.separator) for i in range(50)])
    assert len(packed) == len(stream) // 32 == (head.num_tokens + 50) // 32
    ids, labels = packed.__getitems__([0, 3, len(packed) - 1])
    assert ids.shape == (3, 32) and (labels == -1).all()
    for row, k in enumerate([0, 3, len(packed) - 1]):
        assert ids[row].tolist() == stream[32 * k:32 * (k + 1)].tolist()
    with pytest.raises(IndexError):
        packed.__getitems__([len(packed)])


def test_packed__every_window_is_full_and_fast_on_the_whole_corpus(topic_set):
    packed = topic_set.packed(128)
    ids, _ = packed.__getitems__(np.arange(len(packed)))
    assert ids.shape == (len(packed), 128) and len(packed) == (topic_set.num_tokens + len(topic_set)) // 128
    assert int((ids == topic_set.separator).sum()) >= len(topic_set) - 1
    assert not (ids == topic_set.pad_id).any()


def test_tokenize_corpus__max_length_must_leave_room_for_text(bpe, topic_train, tmp_path):
    with pytest.raises(HeadstartError, match="max_length 2 leaves no room"):
        tokenize_corpus(topic_train, tokenizer=bpe, max_length=2, cache_dir=tmp_path)
    with pytest.raises(HeadstartError, match="seq_len must be at least 2"):
        tokenize_corpus(topic_train.subset([0]), tokenizer=bpe, cache_dir=tmp_path).packed(1)


def test_textset__pickles_without_its_tokens_and_maps_the_cache_again(topic_set):
    small = topic_set.subset(np.arange(100))
    for data in (small, small.packed(32)):
        blob = pickle.dumps(data)
        assert len(blob) < topic_set.tokens.nbytes / 4  # the token array is not in it
        back = pickle.loads(blob)
        assert isinstance(back.tokens, np.memmap)
        assert torch.equal(back.__getitems__([0, 7])[0], data.__getitems__([0, 7])[0])
