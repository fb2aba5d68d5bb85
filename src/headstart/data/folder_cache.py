"""The listing of a large image folder, cached between runs and thrown away when the folder changes.

Listing a million files takes seconds from a warm directory cache and much longer from a cold or
network disk; every command (`pretrain`, `embed`, `select`, ...) lists the folder again. So a
listing of `CACHE_ABOVE` files or more is saved under `~/.cache/headstart/index/` (one `.npz` per
absolute folder path: the names relative to the folder, `\\0`-separated bytes, the labels, the
classes, and every folder that was read with its modification time).

A folder's modification time changes whenever a name directly in it is added, removed or
renamed, so the cached listing is used only when every folder that was read still has the time
it had; a new sub-folder changes its parent's. Changes to a file's bytes do not change the
listing. A folder changed within `COARSE_NS` of the listing is not trusted (file systems with
coarse timestamps could hide a second change in the same tick): that listing is redone next time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time

import numpy as np

from headstart.errors import HeadstartError
from headstart.io import atomic_write, cache_dir

CACHE_ABOVE = 10_000  # smaller folders list in milliseconds; caching them would only litter
COARSE_NS = 2_000_000_000
VERSION = 1
log = logging.getLogger("headstart")


def _cache_file(root: str) -> os.PathLike:
    key = hashlib.sha1(os.fsencode(os.path.abspath(root))).hexdigest()[:20]
    return cache_dir("index") / f"{key}.npz"


def _prefix(root: str) -> str:
    return root if root.endswith(os.sep) else root + os.sep


def _join(names: list[str]) -> np.ndarray:
    return np.frombuffer(b"\0".join(map(os.fsencode, names)), dtype=np.uint8)


def _split(blob: np.ndarray) -> list[str]:
    return os.fsdecode(blob.tobytes()).split("\0") if blob.size else []


def save_listing(root: str, paths: list[str], labels: np.ndarray, classes: list[str], folders: list[str],
                 started_ns: int) -> None:
    """Cache a listing of `root` (paths under it, their labels and classes, the folders read)."""
    if len(paths) < CACHE_ABOVE:
        return
    prefix = _prefix(root)
    if not all(p.startswith(prefix) for p in paths) or not all(f == root or f.startswith(prefix) for f in folders):
        return
    try:
        mtimes = np.array([os.stat(f).st_mtime_ns for f in folders], dtype=np.int64)
    except OSError:
        return  # a folder went away while listing: nothing worth keeping
    meta = {"version": VERSION, "root": os.path.abspath(root), "written_ns": started_ns, "classes": classes}
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "names": _join([p[len(prefix):] for p in paths]),
        "labels": labels.astype(np.int32),
        "folders": _join([f[len(prefix):] if f != root else "" for f in folders]),
        "mtimes": mtimes,
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        atomic_write(_cache_file(root), lambda f: f.write(buffer.getbuffer()))
    except HeadstartError as err:  # a read-only or full home: the listing still works, uncached
        log.debug("folder index not cached: %s", err)


def load_listing(root: str) -> tuple[list[str], np.ndarray, list[str]] | None:
    """(paths, labels, classes) of `root` as cached, or None when there is no cache or the folder changed."""
    path = _cache_file(root)
    try:
        with np.load(path) as z:
            meta = json.loads(z["meta"].tobytes())
            if meta.get("version") != VERSION or meta.get("root") != os.path.abspath(root):
                return None
            prefix = _prefix(root)
            folders = [prefix + f if f else root for f in _split(z["folders"])]
            mtimes = z["mtimes"]
            if len(folders) != len(mtimes) or (mtimes >= meta["written_ns"] - COARSE_NS).any():
                return None
            for folder, mtime in zip(folders, mtimes.tolist(), strict=True):
                if os.stat(folder).st_mtime_ns != mtime:
                    return None
            names, labels = _split(z["names"]), z["labels"].astype(np.int64)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None  # no cache, a stale format, a folder gone: list the folder
    if len(names) != len(labels):
        return None
    log.debug("folder index of %s from %s", root, path)
    return [prefix + n for n in names], labels, meta["classes"]


def now_ns() -> int:
    return time.time_ns()
