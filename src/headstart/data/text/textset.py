"""`TextSet` and `PackedSet`: the datasets the text models read, over cached token ids.

`TextSet` is the text counterpart of `ImageSet`: one item per document, `labels`,
`classes`, `subset(indices)`, `has_labels`, so `data.subsets.label_subset` and everything
built on it work unchanged. A batch is `(ids, labels)`: int64 `(B, L)` ids with the
tokenizer's special tokens around each document, cut to `max_length` and padded with
`pad_id` to the longest document of the batch (fortunes are short: padding every batch to
`max_length` would make most of the work padding). `ids != pad_id` is the attention mask.

`PackedSet` serves fixed-length windows of the documents joined by a separator token, for
pretraining (no padding, every position a real token), read straight from the memory map.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from transformers import PreTrainedTokenizerFast

from headstart.data.imageset import UNLABELED
from headstart.data.text.corpus import Corpus, Labeled
from headstart.data.text.tokenizer import separator_id, special_ids
from headstart.data.text.tokens import open_cached, pad_id_of, tokenize_cached
from headstart.errors import HeadstartError


class _Remaps:
    """Pickles without its token array when it maps a cache folder, and maps the folder again when
    unpickled: a spawned DataLoader worker then shares the file's pages instead of receiving a copy."""

    tokens: np.ndarray
    cache: str

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self.cache:
            state["tokens"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.tokens is None:
            self.tokens = open_cached(self.cache).ids


@dataclass
class TextSet(_Remaps, Labeled, torch.utils.data.Dataset):
    """Tokenized documents, labeled or not.

    Attributes:
        tokens: flat ids of every document of the cache (a memory map), without special tokens.
        starts, lengths: int64 `(N,)`: document i is `tokens[starts[i]:starts[i] + lengths[i]]`.
        labels: int64 `(N,)`, `UNLABELED` (-1) where unknown.
        classes: class names; `labels` index into them.
        max_length: the longest sequence served, special tokens included.
        prefix, suffix: special ids put around every document (e.g. [CLS] ... [SEP]).
        pad_id: padding id (never inside a document).
        separator: the id that ends a document in `packed` sequences.
    """

    tokens: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    classes: list[str] = field(default_factory=list)
    max_length: int = 128
    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()
    pad_id: int = 0
    separator: int = 0
    source: str = ""
    cache: str = ""  # the cache folder `tokens` maps (see `_Remaps`)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def num_tokens(self) -> int:
        """Tokens of the documents in this set (special tokens and cuts not counted)."""
        return int(self.lengths.sum())

    def document(self, i: int) -> np.ndarray:
        """Document i's own ids, uncut, without special tokens."""
        return np.asarray(self.tokens[self.starts[i]:self.starts[i] + self.lengths[i]])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        ids, labels = self.__getitems__([i])
        return ids[0], int(labels[0])

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        room = self.max_length - len(self.prefix) - len(self.suffix)
        kept = np.minimum(self.lengths[idx], room)  # (B,) document tokens kept after the cut
        width = int(kept.max(initial=0)) + len(self.prefix) + len(self.suffix)
        out = np.full((len(idx), width), self.pad_id, np.int64)  # (B, L)
        p, s = len(self.prefix), len(self.suffix)
        for row, (i, n) in enumerate(zip(idx, kept)):
            out[row, :p] = self.prefix
            out[row, p:p + n] = self.tokens[self.starts[i]:self.starts[i] + n]
            out[row, p + n:p + n + s] = self.suffix
        return torch.from_numpy(out), torch.from_numpy(self.labels[idx])

    def attention_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """1 on real tokens, 0 on padding: `ids != pad_id` (the pad id is never inside a document)."""
        return (ids != self.pad_id).long()

    # An `ImageSet`'s serving format has no meaning for text: the batch is what the model reads, so
    # code written for either kind (probes, kNN, forgetting) may ask for a format and gets the set back.
    size = None
    channels = 1

    def with_format(self, *, size: int | None = None, channels: int | None = None) -> TextSet:
        return self

    def subset(self, indices: Sequence[int] | np.ndarray) -> TextSet:
        idx = np.asarray(indices, dtype=np.int64)
        return replace(self, starts=self.starts[idx], lengths=self.lengths[idx], labels=self.labels[idx])

    def packed(self, seq_len: int) -> PackedSet:
        """Fixed-length `(seq_len,)` windows of this set's documents, each ended by `separator`."""
        if seq_len < 2:
            raise HeadstartError(f"seq_len must be at least 2, got {seq_len}")
        return PackedSet(self.tokens, self.starts, self.lengths, seq_len, self.separator, self.cache)


@dataclass
class PackedSet(_Remaps, torch.utils.data.Dataset):
    """Documents joined as `doc0 sep doc1 sep ...` and cut into `len(self)` windows of `seq_len`.

    The stream is never copied: a window's positions are mapped back to (document, offset)
    by a binary search over the documents' starts in the joined stream. The tail shorter
    than `seq_len` is dropped. Items are `(ids (seq_len,), -1)`, batches `(ids (B, seq_len), labels)`.
    """

    tokens: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    seq_len: int
    separator: int
    cache: str = ""

    def __post_init__(self) -> None:
        spans = self.lengths + 1  # each document and its separator
        self._joined_starts = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)  # (N,)
        self._total = int(spans.sum())

    def __len__(self) -> int:
        return self._total // self.seq_len

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        ids, labels = self.__getitems__([i])
        return ids[0], int(labels[0])

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"window index out of range [0, {len(self)})")
        pos = (idx[:, None] * self.seq_len + np.arange(self.seq_len)).ravel()  # (B * S,) joined positions
        doc = np.searchsorted(self._joined_starts, pos, side="right") - 1
        within = pos - self._joined_starts[doc]
        is_sep = within >= self.lengths[doc]
        where = np.clip(self.starts[doc] + within, 0, max(len(self.tokens) - 1, 0))
        body = self.tokens[where] if len(self.tokens) else np.zeros(len(pos), np.int64)
        ids = np.where(is_sep, self.separator, body).astype(np.int64).reshape(len(idx), self.seq_len)
        return torch.from_numpy(ids), torch.full((len(idx),), UNLABELED, dtype=torch.long)


def tokenize_corpus(corpus: Corpus, *, tokenizer: PreTrainedTokenizerFast, max_length: int = 128,
                    cache_dir: str | os.PathLike | None = None) -> TextSet:
    """Tokenize `corpus` once (or read its cache) and serve it as a `TextSet`.

    Args:
        corpus: from `open_text`.
        tokenizer: a fast tokenizer (`train_tokenizer` / `load_tokenizer`).
        max_length: the longest sequence served, special tokens included.
        cache_dir: where token caches live (default `~/.cache/headstart/tokens`).

    Example:
        >>> data = tokenize_corpus(open_text("fortunes-topic"), tokenizer=tok)
        >>> ids, labels = data.__getitems__([0, 1, 2])   # (3, L) int64, (3,)
    """
    prefix, suffix = special_ids(tokenizer)
    if max_length <= len(prefix) + len(suffix):
        raise HeadstartError(f"max_length {max_length} leaves no room for text between the special tokens",
                             fix=f"use at least {len(prefix) + len(suffix) + 1}")
    arrays = tokenize_cached(corpus.texts, tokenizer=tokenizer, cache_dir=cache_dir)
    return TextSet(tokens=arrays.ids, starts=arrays.offsets[:-1].copy(), lengths=arrays.lengths,
                   labels=np.asarray(corpus.labels, np.int64), classes=list(corpus.classes),
                   max_length=max_length, prefix=tuple(prefix), suffix=tuple(suffix),
                   pad_id=pad_id_of(tokenizer), separator=separator_id(tokenizer), source=corpus.source,
                   cache=str(arrays.folder))
