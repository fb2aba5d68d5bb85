"""Debian's fortune cookies as named corpora: `fortunes`, `fortunes-topic`, `fortunes-lang`.

The `fortunes*` packages put about 93,000 short texts in 8 languages under
`/usr/share/games/fortunes`, one text per `%`-separated entry: English topic files at the
top (`computers`, `science`, ...), Brazilian Portuguese in `brasil`, the other languages in
sub-folders. Index files (`.dat`), `.u8` and other symlinks (the top-level Italian links,
`cz/`, `sk/`) and the offensive `off/` folders are skipped.

- `fortunes`: every entry of every language, unlabeled — the pretraining corpus;
- `fortunes-topic`: the entries of `TOPICS` (English files), the file as the class;
- `fortunes-lang`: every entry, its language as the class.

Identical entries (the same words, whatever the case, punctuation, white space and `-- Author`
line) are kept once; an entry found under two classes is dropped from that task. The split is
a hash of those words, the same for all three sets, so no text of any `:test` split is in any
`:train` split, not even with another credit: pretraining on `fortunes:train` never sees a
`fortunes-topic:test` text.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from headstart.data.imageset import UNLABELED
from headstart.data.text.corpus import Corpus
from headstart.errors import HeadstartError

FORTUNES_ROOT = Path("/usr/share/games/fortunes")
# language -> (Debian package, folder under the root; "" is the top level, a file name one file)
LANGUAGES = {"en": ("fortunes", ""), "de": ("fortunes-de", "de"), "es": ("fortunes-es", "es"),
             "it": ("fortunes-it", "it"), "pl": ("fortunes-pl", "pl"), "ru": ("fortunes-ru", "ru"),
             "cs": ("fortunes-cs", "cs"), "pt": ("fortunes-br", "brasil")}
# English topic files with at least ~70 entries each and a subject a reader can name
TOPICS = ("art", "computers", "drugs", "education", "food", "law", "love", "medicine", "politics",
          "science", "sports", "work")
NAMED_TEXT = ("fortunes", "fortunes-topic", "fortunes-lang")
TEST_PER_MILLE = 200  # 20% of the distinct texts are the test split
_SKIP = (".dat", ".u8")
_NON_WORD = re.compile(r"\W+")


@dataclass(frozen=True)
class Entry:
    text: str
    language: str
    file: str  # file name (the topic, for English)
    origin: str  # path:line of the entry's first line


def open_fortunes(name: str, *, split: str, root: str | os.PathLike = FORTUNES_ROOT) -> Corpus:
    """One of `NAMED_TEXT` as a `Corpus`.

    Args:
        name: `fortunes`, `fortunes-topic` or `fortunes-lang`.
        split: "train" or "test" (a text's split is fixed by its hash, see module doc).
        root: where the packages put the files.

    Example:
        >>> open_fortunes("fortunes-topic", split="test").classes[:3]
        ['art', 'computers', 'drugs']
    """
    if name not in NAMED_TEXT:
        raise HeadstartError(f"unknown fortunes set {name!r}", fix=f"use one of: {', '.join(NAMED_TEXT)}")
    c = _open(name, split, Path(root))
    return Corpus(texts=list(c.texts), labels=c.labels.copy(), classes=list(c.classes), origins=list(c.origins),
                  source=c.source)


@lru_cache(maxsize=8)
def _open(name: str, split: str, root: Path) -> Corpus:
    """`open_fortunes` once per process (a study opens the same sets for every cell): the caller gets a copy."""
    languages = ("en",) if name == "fortunes-topic" else tuple(LANGUAGES)
    entries = _distinct(root, languages)
    if name == "fortunes-topic":
        classes, keys = list(TOPICS), [_topic(entry) for entry in entries]
    elif name == "fortunes-lang":
        classes, keys = list(LANGUAGES), [{entry.language for entry in group} for group in entries]
    else:
        classes, keys = [], [{None} for _ in entries]
    keep = [(group[0], next(iter(key))) for group, key in zip(entries, keys)
            if len(key) == 1 and (not classes or next(iter(key)) in classes)]
    keep = [(entry, cls) for entry, cls in keep if is_test(entry.text) == (split == "test")]
    index = {c: i for i, c in enumerate(classes)}
    labels = np.fromiter((index[c] if classes else UNLABELED for _, c in keep), np.int64, len(keep))
    return Corpus(texts=[e.text for e, _ in keep], labels=labels, classes=classes,
                  origins=[e.origin for e, _ in keep], source=f"{name}:{split}")


def is_test(text: str) -> bool:
    """Whether a text is in the test split: a stable hash of its words (see `_key`)."""
    digest = hashlib.blake2b(_key(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 1000 < TEST_PER_MILLE


def _topic(group: tuple[Entry, ...]) -> set[str]:
    """The topic classes of a text's copies (non-topic files do not make it ambiguous)."""
    topics = {entry.file for entry in group if entry.file in TOPICS}
    return topics or {""}


def _key(text: str) -> str:
    """What makes two entries the same text: their words, lower-cased, without attribution lines
    (`-- Author`) and punctuation, so a quote filed twice with another credit is one text; an
    entry without words (ASCII art) is compared as it is, white space collapsed."""
    body = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("--"))
    return _NON_WORD.sub(" ", body.lower()).strip() or " ".join(text.split())


@lru_cache(maxsize=4)
def _distinct(root: Path, languages: tuple[str, ...]) -> list[tuple[Entry, ...]]:
    """Every distinct text of `languages`, each as the tuple of its copies (first in file order)."""
    _check_installed(root, languages)
    groups: dict[str, list[Entry]] = {}
    for language in languages:
        for path in _files(root, language):
            for entry in _read(path, language):
                groups.setdefault(_key(entry.text), []).append(entry)
    return [tuple(copies) for copies in groups.values()]


def _files(root: Path, language: str) -> list[Path]:
    folder = LANGUAGES[language][1]
    if language == "en":
        candidates = [p for p in root.iterdir() if p.name not in {f for _, f in LANGUAGES.values()}]
    elif (root / folder).is_file():
        candidates = [root / folder]
    else:
        candidates = [Path(top) / f for top, _, files in os.walk(root / folder)
                      if "off" not in Path(top).relative_to(root).parts for f in files]
    return sorted(p for p in candidates if not p.is_symlink() and p.is_file()
                  and not p.name.endswith(_SKIP) and not p.name.startswith("."))


def _read(path: Path, language: str) -> list[Entry]:
    """The `%`-separated entries of one fortune file (all the packages' files are UTF-8)."""
    entries: list[Entry] = []
    lines: list[str] = []
    first = 1
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate([*text.split("\n"), "%"], 1):
        if line.rstrip() != "%":
            lines.append(line)
            continue
        body = "\n".join(lines).strip()
        if body:
            entries.append(Entry(body, language, path.name, f"{path}:{first}"))
        lines, first = [], number + 1
    return entries


def _check_installed(root: Path, languages: tuple[str, ...]) -> None:
    marker = {"en": "computers"}  # the top level exists without the English package
    missing = [package for lang, (package, folder) in LANGUAGES.items()
               if lang in languages and not (root / (marker.get(lang) or folder)).exists()]
    if missing:
        every = " ".join(package for package, _ in LANGUAGES.values())
        raise HeadstartError(f"the fortunes corpus is not installed in {root} "
                             f"(missing: {', '.join(missing)})",
                             fix=f"run `apt-get install {every}` as root")
