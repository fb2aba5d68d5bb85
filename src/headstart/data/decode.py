"""Decode one image file into a uint8 `(C, H, W)` tensor, or say why it cannot be.

Every odd file a real folder holds is either made regular here or raised as `BadImage`:

- EXIF orientation is applied, so a phone photo stands the way it was shot;
- palette (`P`), 1-bit, YCbCr, LAB and HSV images are converted to RGB or L;
- transparency (`RGBA`, `LA`, `PA`, palette with a transparent index) is composited on
  **white**, the background most cut-out images (products, icons, scans) are drawn for;
- 16-bit and 32-bit integer images (`I;16`, `I`) are scaled from 0..65535 to 0..255,
  float (`F`) images from 0..1 when they lie in it;
- CMYK is converted to RGB; animated GIFs and multi-page TIFFs give their first frame;
- large JPEGs are decoded at 1/2, 1/4 or 1/8 scale (`draft`) when `size` is at least that
  much smaller, which is several times faster than decoding in full and resizing.

A file of more than `MAX_PIXELS` pixels (PIL's own hard limit at its default setting) is a
decompression bomb; it, a truncated file, an empty one and a non-image all raise `BadImage`.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps

from headstart.errors import HeadstartError

MAX_PIXELS = 178_956_970  # 2 * PIL's default MAX_IMAGE_PIXELS; larger images are bad
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
# what PIL and the libraries under it raise on a broken or hostile file
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError,
                 TypeError, KeyError, ZeroDivisionError, MemoryError, Image.DecompressionBombError,
                 Image.DecompressionBombWarning)

# PIL warns between its limit and twice it, and raises above. headstart makes the warning an
# error so a bomb is one `BadImage`, not a warning followed by a multi-GB allocation; the limit
# it enforces itself (`_check_pixels`) is `MAX_PIXELS`, so PIL must not warn below it.
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS)
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class BadImage(HeadstartError):
    """A file that cannot be decoded into an image. `path` and `reason` are kept separately."""

    def __init__(self, path: str, reason: str, *, fix: str = "remove it or pass --on-bad-image skip") -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"bad image {show_path(path)}: {reason}", fix=fix)


def show_path(path: str | os.PathLike) -> str:
    """A path printable on any terminal: undecodable bytes of a file name become `\\xNN`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def decode_image(path: str | os.PathLike, size: int | None, channels: int) -> torch.Tensor:
    """Decode an image file into uint8 `(channels, size, size)`.

    Args:
        path: the image file.
        size: shorter side is resized to `size`, then the centre `size` x `size` is cropped;
            None keeps the native size `(channels, H, W)`.
        channels: 1 (luma) or 3 (RGB).

    Returns:
        A uint8 tensor `(C, H, W)`.

    Raises:
        BadImage: the file is empty, truncated, not an image, or a decompression bomb.

    Example:
        >>> decode_image("cat.jpg", 64, 3).shape
        torch.Size([3, 64, 64])
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    try:
        with Image.open(path) as im:
            _check_pixels(im)
            if size is not None and im.format in ("JPEG", "MPO"):
                im.draft("L" if channels == 1 else None, (size, size))
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            im = _to_mode(im, channels)
            if size is not None:
                im = _resize_center_crop(im, size)
            array = np.asarray(im, dtype=np.uint8)  # (H, W) or (H, W, 3)
    except BadImage:
        raise
    except DECODE_ERRORS as err:
        raise BadImage(str(path), _reason(err, path)) from None
    tensor = torch.from_numpy(array.copy())
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def is_gray(path: str | os.PathLike) -> bool | None:
    """Whether a file holds a grayscale image, read from its header; None if it cannot be opened."""
    try:
        with Image.open(path) as im:
            if im.mode == "P":
                return _palette_is_gray(im)
            return im.mode in GRAY_MODES
    except DECODE_ERRORS:
        return None


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """`(width, height)` from a file's header, EXIF rotation applied; None if it cannot be opened."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            rotated = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # orientation tag
            return (h, w) if rotated else (w, h)
    except DECODE_ERRORS:
        return None


def _check_pixels(im: Image.Image) -> None:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ValueError(f"image has size {w}x{h}")
    if w * h > MAX_PIXELS:
        raise Image.DecompressionBombError(
            f"Image size ({w * h} pixels) exceeds limit of {MAX_PIXELS} pixels")


def _to_mode(im: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> "L" (channels=1) or "RGB" (channels=3)."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ALPHA_MODES:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba).convert("RGB")
    elif im.mode.startswith("I") or im.mode == "F":
        im = Image.fromarray(_to_uint8(np.asarray(im)))
    return im.convert("L" if channels == 1 else "RGB")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """High bit-depth gray (uint16, int32, float) -> uint8 with rounding."""
    if values.dtype.kind == "f":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if 0.0 <= values.min() and values.max() <= 1.0 else 1.0
        return np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
    wide = np.clip(values.astype(np.int64), 0, 65535)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)  # 65535 -> 255, 257 -> 1


def _resize_center_crop(im: Image.Image, size: int) -> Image.Image:
    """Shorter side -> `size`, then the centre square, in one antialiased resample."""
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    if (w, h) == (size, size):
        return im
    return im.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))


def _palette_is_gray(im: Image.Image) -> bool:
    palette = im.getpalette() or []
    rgb = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
    return bool((rgb == rgb[:, :1]).all())


def _reason(err: BaseException, path: str | os.PathLike) -> str:
    if isinstance(err, Image.UnidentifiedImageError):
        empty = os.path.isfile(path) and os.path.getsize(path) == 0
        return "empty file (0 bytes)" if empty else "not an image file PIL can read"
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        pixels = re.search(r"\((\d+) pixels\)", text)  # PIL's wording, which `_check_pixels` shares
        count = f"{int(pixels.group(1)):,} pixels, " if pixels else ""
        return f"decompression bomb ({count}the limit is {MAX_PIXELS:,})"
    return text
