"""Image folders: a fast recursive index, class sub-folders as labels, decoding by strategy.

Layout rule: when the top folder holds no loose images and at least two of its immediate
sub-folders hold images (at any depth below them), those sub-folders are the classes, in
sorted name order, and `labels` index into them. Otherwise the folder is unlabeled (labels
all -1, no classes). Sub-folders without images are ignored either way.

Listing uses `os.scandir`, whose entries carry the file type, so a regular file costs no
`stat` call (about a million files in a few seconds, see `bench/index_folder.py`). Hidden
names (starting with ".") are skipped; symlinks are followed, each real folder is read once
(so a link loop ends), and an image name that is a broken link or a file link loop is skipped
with a warning naming it. File names that are not valid UTF-8
are kept as Python keeps them (surrogate escapes) and open as they are.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from headstart.data.decode import BadImage, decode_image, image_size, is_gray, show_path
from headstart.data.folder_cache import load_listing, now_ns, save_listing
from headstart.data.imageset import UNLABELED, ImageSet
from headstart.errors import HeadstartError
from headstart.progress import progress

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
_EXTENSIONS = frozenset(IMAGE_EXTENSIONS)
PROBE = 32  # images whose headers decide channels
PROGRESS_ABOVE = 2000  # show a progress bar when decoding more images than this
CHUNK = 1024  # images handed to the thread pool at a time
_warned: set[str] = set()  # bad files already warned about in this process (streaming mode)


class BadImageWarning(UserWarning):
    """A bad image file was skipped (or served black, when streaming)."""


@dataclass
class FolderIndex:
    paths: list[str]
    labels: np.ndarray  # int64 (N,), UNLABELED where the layout gives no class
    classes: list[str]


def index_folder(root: str | os.PathLike, *, cache: bool = True) -> FolderIndex:
    """List the image files under `root` and read labels from the layout (see module doc).

    A large folder's listing is cached and reused until a folder in it changes
    (`headstart.data.folder_cache`); `cache=False` always lists."""
    root = os.fspath(root)
    if cache and (hit := load_listing(root)) is not None:
        return FolderIndex(*hit)
    started = now_ns()
    visited = {_folder_key(os.stat(root))}
    folders = [root]
    loose, subdirs = _scan(root, visited, folders)
    per_class = [(os.path.basename(d), _walk(d, visited, folders)) for d in subdirs]
    per_class = [(name, paths) for name, paths in per_class if paths]
    if len(per_class) >= 2 and not loose:
        classes = [name for name, _ in per_class]
        paths = [p for _, class_paths in per_class for p in class_paths]
        labels = np.repeat(np.arange(len(classes)), [len(p) for _, p in per_class]).astype(np.int64)
    else:
        classes = []
        paths = sorted(loose + [p for _, class_paths in per_class for p in class_paths])
        labels = np.full(len(paths), UNLABELED, np.int64)
    if cache:
        save_listing(root, paths, labels, classes, folders, started)
    return FolderIndex(paths, labels, classes)


def _walk(top: str, visited: set[tuple[int, int]], folders: list[str]) -> list[str]:
    """Every image file below `top`, sorted."""
    found: list[str] = []
    stack = [top]
    while stack:
        files, dirs = _scan(stack.pop(), visited, folders)
        found += files
        stack += reversed(dirs)
    found.sort()
    return found


def _scan(folder: str, visited: set[tuple[int, int]], folders: list[str]) -> tuple[list[str], list[str]]:
    """Image files and not yet visited sub-folders directly in `folder`, both sorted; the sub-folders
    are also added to `folders` (every folder read, for the cache's check)."""
    files: list[str] = []
    dirs: list[str] = []
    try:
        entries = os.scandir(folder)
    except OSError as err:
        warnings.warn(f"cannot read folder {show_path(folder)}: {err.strerror or err}", stacklevel=3)
        return files, dirs
    with entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            image_name = os.path.splitext(entry.name)[1].lower() in _EXTENSIONS
            try:
                if entry.is_dir():  # follows links; False for a broken one
                    key = _folder_key(entry.stat())
                    if key not in visited:
                        visited.add(key)
                        dirs.append(entry.path)
                elif image_name and entry.is_file():
                    files.append(entry.path)
                elif image_name and entry.is_symlink():
                    _warn_skipped(entry.path, "broken link (its target does not exist)")
            except OSError as err:  # a link loop (ELOOP), a file gone meanwhile, no permission
                if image_name:
                    _warn_skipped(entry.path, err.strerror or str(err))
    files.sort()
    dirs.sort()
    folders += dirs
    return files, dirs


def _warn_skipped(path: str, reason: str) -> None:
    warnings.warn(f"skipping {show_path(path)}: {reason}", BadImageWarning, stacklevel=4)


def _folder_key(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def open_folder(root: str | os.PathLike, *, on_bad_image: Literal["skip", "fail"], memory_budget: int,
                load_size: int | None) -> ImageSet:
    """Index `root` and decode it into memory when it fits `memory_budget` bytes, else stream it.

    `load_size` None: the first image's shorter side, clamped to [32, 256]. Channels: 1 when
    every probed image is grayscale, else 3.
    """
    index = index_folder(root)
    if not index.paths:
        accepted = " ".join(IMAGE_EXTENSIONS)
        raise HeadstartError(f"no images in {show_path(root)}",
                             fix=f"put image files ({accepted}) in it or in class sub-folders")
    channels, first_side = _probe(index.paths, root)
    size = load_size or min(max(first_side, 32), 256)
    base = ImageSet(paths=index.paths, labels=index.labels, classes=index.classes, channels=channels,
                    source=os.fspath(root))
    if len(index.paths) * channels * size * size > memory_budget:
        base.decode, base.size = decode_or_black, size
        return base
    images, bad = _decode_all(index.paths, size, channels, on_bad_image)
    for i in sorted(bad):
        warnings.warn(f"skipping {show_path(index.paths[i])}: {bad[i]}", BadImageWarning, stacklevel=2)
    if len(bad) == len(index.paths):
        raise HeadstartError(f"none of the {len(bad)} image files in {show_path(root)} could be decoded",
                             fix="check the files; the warnings above give each one's reason")
    keep = np.setdiff1d(np.arange(len(index.paths)), np.fromiter(bad, np.int64, len(bad)))
    if bad:
        images = images[torch.from_numpy(keep)]
    return ImageSet(paths=[index.paths[i] for i in keep], labels=index.labels[keep], classes=index.classes,
                    images=images, channels=channels, source=os.fspath(root))


def _probe(paths: list[str], root: str | os.PathLike) -> tuple[int, int]:
    """(channels, shorter side of the first readable image), read from file headers only."""
    first = next((s for s in map(image_size, paths) if s is not None), None)
    if first is None:
        raise HeadstartError(f"none of the {len(paths)} image files in {show_path(root)} could be read",
                             fix="check that they are images (open one in an image viewer)")
    sample = paths[:: max(1, len(paths) // PROBE)][:PROBE]
    grays = [g for g in map(is_gray, sample) if g is not None]
    return (1 if grays and all(grays) else 3), min(first)


def _decode_all(paths: list[str], size: int, channels: int,
                on_bad_image: Literal["skip", "fail"]) -> tuple[torch.Tensor, dict[int, str]]:
    """Decode every file into one uint8 `(N, C, size, size)` tensor on a thread pool.

    PIL releases the GIL while decoding and resizing, so threads scale with cores.
    Returns the tensor and `{index: reason}` for the bad files (their rows are garbage).
    """
    out = torch.empty((len(paths), channels, size, size), dtype=torch.uint8)
    bad: dict[int, str] = {}

    def work(i: int) -> None:
        try:
            out[i] = decode_image(paths[i], size, channels)
        except BadImage as err:
            bad[i] = err.reason

    with ThreadPoolExecutor() as pool, progress("decoding images", len(paths),
                                                enabled=len(paths) > PROGRESS_ABOVE) as advance:
        for start in range(0, len(paths), CHUNK):
            chunk = range(start, min(start + CHUNK, len(paths)))
            list(pool.map(work, chunk))
            if bad and on_bad_image == "fail":
                first = min(bad)
                raise BadImage(paths[first], bad[first])
            advance(len(chunk))
    return out, bad


def decode_or_black(path: str, size: int, channels: int) -> torch.Tensor:
    """`decode_image` for streamed sets: a bad file gives a black image and one warning, not a crash."""
    try:
        return decode_image(path, size, channels)
    except BadImage as err:
        if path not in _warned:
            _warned.add(path)
            warnings.warn(f"serving a black image for {show_path(path)}: {err.reason}", BadImageWarning,
                          stacklevel=2)
        return torch.zeros((channels, size, size), dtype=torch.uint8)
