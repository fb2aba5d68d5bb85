"""Token ids of a corpus, computed once and cached on disk as one compact array.

A corpus tokenized by a tokenizer is stored in `<cache>/<key>/`, where `key` hashes every
text and the tokenizer's full definition:

    ids.bin       every document's ids back to back, uint16 (vocab <= 65536) or uint32
    offsets.npy   int64 (N + 1,): document i is ids[offsets[i]:offsets[i + 1]]
    meta.json     dtype, counts, and the tokenizer hash

The folder is written under a temporary name and renamed when complete, so a killed run
leaves no half cache, and two processes building the same cache both end with a whole one.
Reads memory-map `ids.bin` (`np.memmap`), so a corpus larger than memory costs only the
pages a batch touches. Ids are stored without special tokens; the serving views add them.
The pad id never occurs inside a document (a literal pad token in a text is dropped), so
in every served batch `ids == pad_id` is exactly the padding.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from headstart.errors import HeadstartError
from headstart.io import cache_dir, disk_error, temp_folder_beside
from headstart.progress import progress

CACHE_VERSION = 1
BATCH = 4096  # documents per encode_batch call (the Rust side runs them on all cores)
PROGRESS_ABOVE = 50_000  # show a progress bar when tokenizing more documents than this


@dataclass(frozen=True)
class TokenArrays:
    """A tokenized corpus: flat ids (memory-mapped) and document offsets."""

    ids: np.ndarray  # (T,) uint16 or uint32
    offsets: np.ndarray  # (N + 1,) int64
    folder: Path

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/headstart/tokens` (`~/.cache/headstart/tokens`)."""
    return cache_dir("tokens")


def pad_id_of(tokenizer: PreTrainedTokenizerFast) -> int:
    """The padding id: the tokenizer's pad token, else its eos (GPT-2 has no pad token)."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise HeadstartError("the tokenizer has no pad or eos token", fix="use a tokenizer with a pad token")


def tokenize_cached(texts: Sequence[str], *, tokenizer: PreTrainedTokenizerFast,
                    cache_dir: str | os.PathLike | None = None) -> TokenArrays:
    """The ids of `texts` under `tokenizer`, read from the cache or computed and cached.

    Args:
        texts: the documents.
        tokenizer: a fast tokenizer (`train_tokenizer` / `load_tokenizer`).
        cache_dir: where caches live; default `default_cache_dir()`.

    Returns:
        `TokenArrays` whose `ids` is a read-only memory map.

    Example:
        >>> arrays = tokenize_cached(corpus.texts, tokenizer=tok)
        >>> arrays.ids[arrays.offsets[0]:arrays.offsets[1]]   # the first document's ids
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / cache_key(texts, tokenizer)
    if not (folder / "meta.json").is_file():
        _build(texts, tokenizer, folder)
    return open_cached(folder)


def open_cached(folder: str | os.PathLike) -> TokenArrays:
    """Memory-map a cache folder written by `tokenize_cached`."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    offsets = np.load(folder / "offsets.npy")
    dtype = np.dtype(meta["dtype"])
    if meta["tokens"] == 0:  # np.memmap cannot map an empty file
        return TokenArrays(np.zeros(0, dtype), offsets, folder)
    ids = np.memmap(folder / "ids.bin", dtype=dtype, mode="r", shape=(meta["tokens"],))
    return TokenArrays(ids, offsets, folder)


def cache_key(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast) -> str:
    """A hash of the cache format, the tokenizer's definition and every text (length-prefixed)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"v{CACHE_VERSION}\0{pad_id_of(tokenizer)}\0".encode())
    h.update(tokenizer.backend_tokenizer.to_str().encode("utf-8"))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def dtype_for(vocab_size: int) -> np.dtype:
    """uint16 when every id fits in 16 bits, else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def _build(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast, folder: Path) -> None:
    """Tokenize `texts` in batches into a temporary folder, then rename it to `folder`."""
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()  # documents are cut when served, not when cached
    backend.no_padding()
    dtype, pad_id = dtype_for(len(tokenizer)), pad_id_of(tokenizer)
    tmp = temp_folder_beside(folder)
    try:
        offsets = np.zeros(len(texts) + 1, np.int64)
        with open(tmp / "ids.bin", "wb") as out, progress("tokenizing documents", len(texts),
                                                         enabled=len(texts) > PROGRESS_ABOVE) as advance:
            for start in range(0, len(texts), BATCH):
                chunk = backend.encode_batch(list(texts[start:start + BATCH]), add_special_tokens=False)
                ids = [np.asarray(e.ids, np.int64) for e in chunk]
                ids = [doc[doc != pad_id] for doc in ids]
                offsets[start + 1:start + 1 + len(ids)] = [len(doc) for doc in ids]
                if ids:
                    out.write(np.concatenate(ids).astype(dtype).tobytes())
                advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        np.cumsum(offsets, out=offsets)
        np.save(tmp / "offsets.npy", offsets)
        meta = {"version": CACHE_VERSION, "dtype": dtype.name, "documents": len(texts),
                "tokens": int(offsets[-1]), "vocab_size": len(tokenizer), "pad_id": pad_id}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _publish(tmp, folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(err, folder) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish(tmp: Path, folder: Path) -> None:
    """Rename the finished `tmp` to `folder`; if another process got there first, keep theirs."""
    if folder.is_dir() and not (folder / "meta.json").is_file():  # left by a copy that was cut short
        shutil.rmtree(folder)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not (folder / "meta.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
