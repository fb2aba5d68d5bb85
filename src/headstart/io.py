"""Atomic file writes: write a temporary file beside the target, fsync, rename.

A reader (or a resumed run) therefore sees either the old file or the new one, never half of
one, even if the process is killed mid-write or the disk fills up.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from headstart.errors import HeadstartError


def cache_dir(kind: str = "") -> Path:
    """`$XDG_CACHE_HOME/headstart/<kind>` (`~/.cache/headstart/<kind>`): downloads, token arrays, folder
    indexes."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "headstart" / kind


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces `path` only when the block ends without error.

    Text is UTF-8; a file name that is not (Python keeps its bytes as surrogate escapes) is
    written back as its original bytes rather than failing the whole write.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise disk_error(err, path) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        text = {} if "b" in mode else {"encoding": "utf-8", "errors": "surrogateescape"}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        _remove(tmp)
        raise disk_error(err, path) from None
    except BaseException:
        _remove(tmp)
        raise


def atomic_write(path: Path | str, write: Callable[[IO], Any], mode: str = "wb") -> None:
    with atomic_open(path, mode) as f:
        write(f)


def write_text(path: Path | str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text), mode="w")


def write_json(path: Path | str, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def disk_error(err: OSError, path: Path) -> HeadstartError:
    """An OSError while writing, as a user-facing error naming the path and the fix."""
    if err.errno == errno.ENOSPC:
        return HeadstartError(f"disk full while writing {path}", fix="free space or pass --out on another disk")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return HeadstartError(f"cannot write {path}: {err.strerror}", fix="pass --out to a writable folder")
    return HeadstartError(f"cannot write {path}: {err}", fix="check the output folder")


def temp_folder_beside(folder: Path) -> Path:
    """A new empty temporary folder next to `folder` (same disk, hidden `.NAME.*.tmp`), to fill and then
    rename onto `folder`, so a folder is replaced whole or not at all; a disk error is a `HeadstartError`."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    except OSError as err:
        raise disk_error(err, folder) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
