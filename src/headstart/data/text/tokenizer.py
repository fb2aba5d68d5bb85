"""Tokenizers trained here on the pretraining corpus, or read from a local Hugging Face folder.

`train_tokenizer` fits a byte-level BPE (GPT-2's scheme: every byte has a token, so no text
is ever unknown and decoding gives the text back exactly) or a WordPiece vocabulary (BERT's)
with Hugging Face `tokenizers`, and wraps it as a `transformers.PreTrainedTokenizerFast`, so
`save_tokenizer` writes a folder that `transformers.AutoTokenizer.from_pretrained(folder)`
loads without headstart. Nothing is ever downloaded: `load_tokenizer` reads local folders only.

Special tokens come in two styles: `bert` ([CLS] text [SEP], with [MASK] [PAD] [UNK]) for
encoders, and `gpt` (<s> text, with </s> between documents and <pad>) for decoders.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from headstart.data.decode import show_path
from headstart.errors import HeadstartError

Kind = Literal["bpe", "wordpiece"]
Style = Literal["bert", "gpt"]
KINDS = ("bpe", "wordpiece")
STYLES = ("bert", "gpt")
# transformers' names for the special tokens of each style; the first is the one every text starts with
SPECIAL_TOKENS: dict[str, dict[str, str]] = {
    "bert": {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]",
             "unk_token": "[UNK]"},
    "gpt": {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"},
}
MIN_VOCAB = 300  # byte-level BPE starts from 256 bytes plus the special tokens
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def train_tokenizer(texts: Iterable[str], *, kind: Kind = "bpe", vocab_size: int = 8192,
                    style: Style = "bert", min_frequency: int = 2,
                    model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """Fit a tokenizer on `texts`.

    Args:
        texts: the documents (e.g. `Corpus.texts` of the pretraining corpus).
        kind: "bpe" (byte-level BPE, exact round trip) or "wordpiece" (BERT's; text is split at
            white space and punctuation, so decoding normalizes spacing).
        vocab_size: number of tokens, special tokens included (at least `MIN_VOCAB`).
        style: "bert" or "gpt" special tokens (see module doc).
        min_frequency: a merge must occur this often in `texts` to enter the vocabulary.
        model_max_length: the longest sequence the model will take, saved with the tokenizer.

    Returns:
        A `PreTrainedTokenizerFast` whose `tokenizer(text)` adds the style's special tokens.

    Example:
        >>> tok = train_tokenizer(corpus.texts, vocab_size=8000)
        >>> tok.decode(tok("Hello")["input_ids"], skip_special_tokens=True)
        'Hello'
    """
    if kind not in KINDS:
        raise HeadstartError(f"unknown tokenizer kind {kind!r}", fix=f"use one of: {', '.join(KINDS)}")
    if style not in STYLES:
        raise HeadstartError(f"unknown special-token style {style!r}", fix=f"use one of: {', '.join(STYLES)}")
    if vocab_size < MIN_VOCAB:
        raise HeadstartError(f"vocab_size {vocab_size} is too small", fix=f"use at least {MIN_VOCAB}")
    specials = SPECIAL_TOKENS[style]
    special_list = list(dict.fromkeys(specials.values()))
    backend = _byte_bpe() if kind == "bpe" else _wordpiece(specials["unk_token"])
    if kind == "bpe":
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=special_list, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=special_list, show_progress=False)
    backend.train_from_iterator(_nonempty(texts), trainer=trainer)
    if backend.get_vocab_size() <= len(special_list):
        raise HeadstartError("the tokenizer learned no vocabulary", fix="train it on a corpus with some text")
    backend.post_processor = _template(backend, style)
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=model_max_length,
                                   clean_up_tokenization_spaces=False, **specials)


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: str | os.PathLike) -> Path:
    """Write `tokenizer` as a `save_pretrained` folder, replacing `folder` whole or not at all."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        tokenizer.save_pretrained(tmp)
        _portable(tmp, tokenizer)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_tokenizer(folder: str | os.PathLike) -> PreTrainedTokenizerFast:
    """A fast tokenizer from a local `save_pretrained` folder (a run's, or any Hugging Face model's).

    Raises:
        HeadstartError: `folder` is not a local folder with a tokenizer in it. A name such as
            `bert-base-uncased` is never looked up on the hub.
    """
    path = Path(folder)
    if not path.is_dir():
        raise HeadstartError(f"no tokenizer folder at {show_path(path)}",
                             fix="pass a local folder written by save_pretrained (headstart never downloads)")
    if not any((path / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer.model")):
        raise HeadstartError(f"{show_path(path)} holds no tokenizer (no tokenizer.json, vocab.txt or "
                             "tokenizer.model)", fix="pass the folder a save_pretrained call wrote")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise HeadstartError(f"cannot load the tokenizer in {show_path(path)}: {err}",
                             fix="check the folder's tokenizer files") from None
    if not tokenizer.is_fast:
        raise HeadstartError(f"the tokenizer in {show_path(path)} has no fast (Rust) version",
                             fix="save it with tokenizers installed so the folder holds tokenizer.json")
    return tokenizer


def special_ids(tokenizer: PreTrainedTokenizerFast) -> tuple[list[int], list[int]]:
    """(prefix, suffix): the ids `tokenizer` puts before and after a text's own tokens.

    Read off the tokenizer itself, so a local HF tokenizer gets the same treatment as ours.
    """
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return full[:start], full[start + len(plain):]
    return [], []


def separator_id(tokenizer: PreTrainedTokenizerFast) -> int:
    """The token that ends a document when documents are packed: eos, else sep, else pad."""
    for token_id in (tokenizer.eos_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id):
        if token_id is not None:
            return int(token_id)
    raise HeadstartError("the tokenizer has no eos, sep or pad token to separate documents",
                         fix="use a tokenizer with an eos or sep token (train one with headstart)")


def _portable(folder: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    """Name the class every transformers version resolves (5.x writes its own `TokenizersBackend`,
    which 4.x cannot load) and write `special_tokens_map.json`, which 5.x no longer does."""
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    specials = folder / "special_tokens_map.json"
    if not specials.exists():
        specials.write_text(json.dumps(tokenizer.special_tokens_map, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")


def _byte_bpe() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    # no prefix space: decode(encode(text)) == text, byte for byte
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _wordpiece(unk: str) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token=unk))
    # cased, accents kept: the corpora are multilingual and case carries meaning in few-label tasks
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer


def _template(tokenizer: Tokenizer, style: Style) -> processors.TemplateProcessing:
    ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS[style].values()}
    if style == "bert":
        pairs = [("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])]
        return processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                             special_tokens=pairs)
    return processors.TemplateProcessing(single="<s> $A", pair="<s> $A </s> $B:1",
                                         special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    return (t for t in texts if t)
