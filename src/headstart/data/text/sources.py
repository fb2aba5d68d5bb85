"""`open_text`: the entry point for a text `--data`, as `open_data` is for images.

A spec is a named corpus (`fortunes`, `fortunes-topic`, `fortunes-lang`, optionally with a
`:train` / `:test` suffix), a `.txt` / `.jsonl` / `.csv` / `.tsv` file, or a folder of them
(class sub-folders give labels; `train/` + `test/` (or `val/`) sub-folders give splits).
"""

from __future__ import annotations

import os
from pathlib import Path

from headstart.data.folder import IMAGE_EXTENSIONS
from headstart.data.specs import parse_spec, split_folder
from headstart.data.text.corpus import Corpus
from headstart.data.text.fortunes import NAMED_TEXT, open_fortunes
from headstart.data.text.readers import TEXT_EXTENSIONS, read_corpus

_PROBE_FILES = 2000  # files looked at to tell a text folder from an image folder


def open_text(spec: str, *, split: str = "train", paragraphs: bool = False, strict: bool = False,
              encoding: str = "utf-8") -> Corpus:
    """Open a text `--data` as a `Corpus`.

    Args:
        spec: a named corpus (a `:train` / `:test` suffix overrides `split`), a text file, or a
            folder of text files (see module doc).
        split: "train" or "test". A file, or a folder without train/ and test/ sub-folders,
            is the same whatever the split.
        paragraphs: one document per blank-line-separated paragraph of a `.txt` file.
        strict: raise on the first bad file, line or document instead of skipping it.
        encoding: the files' encoding.

    Returns:
        A `Corpus`.

    Example:
        >>> open_text("fortunes-topic:test").classes[:3]
        ['art', 'computers', 'drugs']
    """
    accepted = f"a text file ({' '.join(TEXT_EXTENSIONS)}) or a folder of them"
    target, split = parse_spec(spec, split, names=NAMED_TEXT, accepted=accepted)
    if target in NAMED_TEXT:
        return open_fortunes(target, split=split)
    path = Path(target)
    if path.is_dir():
        path = split_folder(path, split)
    return read_corpus(path, paragraphs=paragraphs, strict=strict, encoding=encoding)


def is_text_spec(spec: str) -> bool:
    """Whether `--data spec` names text: a named corpus, a text file, or a folder whose files are
    text rather than images (decided by the first files found)."""
    target = spec.rpartition(":")[0] if ":" in spec and not os.path.exists(spec) else spec
    if target in NAMED_TEXT:
        return True
    path = Path(target)
    if path.is_file():
        return path.suffix.lower() in TEXT_EXTENSIONS
    if not path.is_dir():
        return False
    seen = 0
    for _, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            ext = os.path.splitext(name)[1].lower()
            if ext in TEXT_EXTENSIONS:
                return True
            if ext in IMAGE_EXTENSIONS:
                return False
            seen += 1
            if seen >= _PROBE_FILES:
                return False
    return False
