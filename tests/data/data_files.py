"""Helpers for the data tests: real Fashion-MNIST images written out as files, hand-made broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from headstart.data.imageset import ImageSet

CLASS_IDS = (0, 1, 7)  # T-shirt/top, Trouser, Sneaker
FOLDER_NAMES = ("tshirt", "trouser", "sneaker")  # sorted: sneaker, trouser, tshirt


def first_of_classes(data: ImageSet, per_class: int) -> dict[int, np.ndarray]:
    """{class id: indices of its first `per_class` images}, for the ids in CLASS_IDS."""
    return {c: np.flatnonzero(data.labels == c)[:per_class] for c in CLASS_IDS}


def write_class_folders(root: Path, data: ImageSet, per_class: int = 20, ext: str = "png",
                        rgb: bool = False) -> dict[str, np.ndarray]:
    """Write images as `root/<class folder>/<index>.<ext>`; returns {file path: (28, 28) pixels}."""
    written = {}
    for name, (c, indices) in zip(FOLDER_NAMES, first_of_classes(data, per_class).items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in indices:
            pixels = data.images[i, 0].numpy()  # (28, 28) uint8
            image = Image.fromarray(pixels).convert("RGB" if rgb else "L")
            path = root / name / f"{i:05d}.{ext}"
            image.save(path, quality=95) if ext in ("jpg", "jpeg") else image.save(path)
            written[str(path)] = pixels
    return written


def png_bytes(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG built by hand: 8-bit gray IHDR claiming `width` x `height`, then `idat`, then IEND."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_bad_files(folder: Path, fashion: ImageSet) -> dict[str, str]:
    """One file of each bad kind; returns {file name: a word its warning must contain}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good.png"
    Image.fromarray(fashion.images[0, 0].numpy()).save(good)
    data = good.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "zero.png").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not a JPEG\n")
    (folder / "bomb.png").write_bytes(png_bytes(100_000, 100_000, zlib.compress(b"\0" * 1000)))
    return {"truncated.png": "truncated", "zero.png": "empty", "text.jpg": "not an image",
            "bomb.png": "decompression bomb"}
