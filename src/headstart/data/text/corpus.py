"""`Corpus`: what every text source becomes — documents, integer labels, class names.

A corpus is the text counterpart of `ImageSet` before tokenization: plain Python strings
with `labels` (int64, `UNLABELED` where unknown) indexing into `classes`, and one origin
per document (`file:line`) so a warning or a curation result can point at the source.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from headstart.data.decode import show_path
from headstart.data.imageset import UNLABELED
from headstart.errors import HeadstartError


class BadTextWarning(UserWarning):
    """A bad text file, line or document was skipped."""


class BadText(HeadstartError):
    """A text file, line or document that cannot be read (raised instead of a warning when strict)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"bad text {where}: {reason}",
                         fix="fix or remove it, or read without strict to skip it with a warning")


class Labeled:
    """`has_labels` and `num_classes` for a set with `labels` (int64, -1 unknown) and `classes`."""

    labels: np.ndarray
    classes: list[str]

    @property
    def has_labels(self) -> bool:
        return len(self.labels) > 0 and bool((self.labels != UNLABELED).all())

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class Corpus(Labeled):
    """A labeled or unlabeled set of documents.

    Attributes:
        texts: one string per document, stripped of leading and trailing white space.
        labels: int64 `(N,)`, `UNLABELED` (-1) where unknown.
        classes: class names; `labels` index into them.
        origins: where each document came from, `file:line`.
        source: the spec or path the corpus was opened from.
    """

    texts: list[str]
    labels: np.ndarray
    classes: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Corpus:
        idx = np.asarray(indices, dtype=np.int64)
        return replace(self, texts=[self.texts[i] for i in idx], labels=self.labels[idx],
                       origins=[self.origins[i] for i in idx] if self.origins else [])


class Problems:
    """Collects bad input while reading: warns (or raises when strict), at most `limit` warnings per file.

    A file with thousands of broken lines gives `limit` warnings and one summary, not a flood.
    """

    def __init__(self, *, strict: bool, limit: int = 10) -> None:
        self.strict = strict
        self.limit = limit
        self._per_file: dict[str, int] = {}

    def bad(self, path: str, line: int | None, reason: str) -> None:
        """Report one bad file (`line` None) or one bad line/document of `path`."""
        where = show_path(path) + (f":{line}" if line is not None else "")
        if self.strict:
            raise BadText(where, reason)
        seen = self._per_file[path] = self._per_file.get(path, 0) + 1
        if seen <= self.limit:
            warnings.warn(f"skipping {where}: {reason}", BadTextWarning, stacklevel=3)

    def finish(self) -> None:
        """One summary warning per file that had more bad lines than were shown."""
        for path, seen in self._per_file.items():
            if seen > self.limit:
                warnings.warn(f"skipped {seen - self.limit} more bad lines in {show_path(path)}",
                              BadTextWarning, stacklevel=3)


def label_ids(names: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Class names per document (None: unlabeled) -> (int64 labels, sorted class names).

    Names that are all integers sort as numbers, so `"10"` comes after `"9"`.
    """
    present = sorted({n for n in names if n is not None},
                     key=lambda n: (0, int(n), n) if n.lstrip("-").isdigit() else (1, 0, n))
    index = {name: i for i, name in enumerate(present)}
    labels = np.fromiter((UNLABELED if n is None else index[n] for n in names), np.int64, len(names))
    return labels, present
