"""IDX `.gz` sets (Fashion-MNIST, MNIST): by file/folder path or by name, train/test splits.

Named sets are looked up in `$HEADSTART_DATA`, the Debian package folders
(`apt-get install dataset-fashion-mnist`) and `~/.cache/headstart`, then fetched with
torchvision's ordinary download when online; offline, the error says what to run.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from headstart.data.imageset import ImageSet
from headstart.errors import HeadstartError
from headstart.io import cache_dir

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
NAMED = {
    "fashion-mnist": ("FashionMNIST", FASHION_CLASSES, "/usr/share/datasets/fashion-mnist"),
    "mnist": ("MNIST", [str(i) for i in range(10)], "/usr/share/datasets/mnist"),
}
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
            if zero != 0 or dtype_code != 0x08:
                raise HeadstartError(f"{path} is not a uint8 IDX file", fix="pass an IDX .gz file such as train-images-idx3-ubyte.gz")
            shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            data = np.frombuffer(f.read(), dtype=np.uint8)
    except (OSError, EOFError, struct.error) as err:
        raise HeadstartError(f"cannot read IDX file {path}: {err}", fix="re-download or reinstall the data set") from None
    if data.size != int(np.prod(shape)):
        raise HeadstartError(f"IDX file {path} is truncated ({data.size} of {int(np.prod(shape))} bytes)",
                             fix="re-download or reinstall the data set")
    return data.reshape(shape)


def load_idx_pair(images_path: Path, labels_path: Path | None, classes: list[str], source: str) -> ImageSet:
    images = read_idx(images_path)
    if images.ndim != 3:
        raise HeadstartError(f"{images_path} holds {images.ndim}-D data, expected (N, H, W) images")
    n = images.shape[0]
    labels = read_idx(labels_path).astype(np.int64) if labels_path else np.full(n, -1, np.int64)
    if len(labels) != n:
        raise HeadstartError(f"{labels_path} has {len(labels)} labels for {n} images")
    if not classes and labels_path:
        classes = [str(i) for i in range(int(labels.max()) + 1)]
    return ImageSet(
        paths=[f"{images_path}#{i}" for i in range(n)],
        labels=labels,
        classes=classes,
        images=torch.from_numpy(images.copy()).unsqueeze(1),  # (N, 1, H, W)
        channels=1,
        source=source,
    )


def find_named(name: str) -> Path:
    """The folder holding a named set's four IDX files, downloading it if it must."""
    tv_name, _, debian = NAMED[name]
    candidates = [Path(p) / name for p in os.environ.get("HEADSTART_DATA", "").split(os.pathsep) if p]
    cache = cache_dir()
    candidates += [Path(debian), cache / tv_name / "raw"]
    for folder in candidates:
        if all((folder / f).is_file() for pair in FILES.values() for f in pair):
            return folder
    return _download(name, tv_name, cache)


def _download(name: str, tv_name: str, cache: Path) -> Path:
    import torchvision

    try:
        for train in (True, False):
            getattr(torchvision.datasets, tv_name)(root=str(cache), train=train, download=True)
    except Exception as err:  # noqa: BLE001 - any network failure means the same fix
        apt = "apt-get install dataset-fashion-mnist" if name == "fashion-mnist" else None
        fix = f"install it with `{apt}` (as root) or " if apt else ""
        raise HeadstartError(
            f"{name} is not on this machine and could not be downloaded ({type(err).__name__})",
            fix=f"{fix}put its four IDX .gz files in $HEADSTART_DATA/{name}/",
        ) from None
    return cache / tv_name / "raw"


def open_idx(spec: str, split: str) -> ImageSet:
    """`spec` is a named set, a folder with the four IDX files, or one images IDX file."""
    if spec in NAMED:
        folder = find_named(spec)
        images, labels = FILES[split]
        return load_idx_pair(folder / images, folder / labels, NAMED[spec][1], f"{spec}:{split}")
    path = Path(spec)
    if path.is_dir():
        images, labels = FILES[split]
        return load_idx_pair(path / images, path / labels, [], f"{spec}:{split}")
    label_file = Path(str(path).replace("images-idx3", "labels-idx1"))
    has_labels = label_file != path and label_file.is_file()
    return load_idx_pair(path, label_file if has_labels else None, [], str(path))
