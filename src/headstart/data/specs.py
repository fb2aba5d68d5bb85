"""Reading a `--data` spec: a named set or a path, an optional `:train` / `:test` suffix, and
`train/` + `test/` (or `val/`) sub-folders that pick the split. Shared by images and text."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path

from headstart.errors import HeadstartError

SPLITS = ("train", "test")
# a folder laid out as <root>/train/... and <root>/test/ (or val/): the split picks one
SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "val", "validation")}


def parse_spec(spec: str, split: str, *, names: Sequence[str], accepted: str) -> tuple[str, str]:
    """(path or set name, split): an existing path wins over reading `x:test` as a suffix.

    `names` are the named sets; `accepted` says in an error what else a spec may be."""
    target = spec
    if spec not in names and not os.path.exists(spec):
        head, sep, tail = spec.rpartition(":")
        if not (sep and (head in names or os.path.exists(head))):
            close = difflib.get_close_matches(spec, list(names), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise HeadstartError(f"no such file or folder: {spec}",
                                 fix=f"{hint}pass {accepted}, or one of: " + ", ".join(names))
        target, split = head, tail
    if split not in SPLITS:
        raise HeadstartError(f"unknown split {split!r} in {spec!r}", fix=f"use one of: {', '.join(SPLITS)}")
    return target, split


def split_folder(root: Path, split: str) -> Path:
    """`root/<split>` when `root` is laid out as train/ + test/ (or val/) sub-folders, else `root`."""
    train = root / "train"
    test = next((root / name for name in SPLIT_FOLDERS["test"] if (root / name).is_dir()), None)
    if not (train.is_dir() and test is not None):
        return root
    return train if split == "train" else test
