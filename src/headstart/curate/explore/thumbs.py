"""Thumbnails made once per image set and cached as sprite sheets (WebP) in the run folder.

A sheet holds `PER_SIDE x PER_SIDE` thumbnails of `size` px in row-major order, so thumbnail
i sits on sheet i // PER_SIDE**2 at column (i % PER_SIDE**2) % PER_SIDE. The page fetches a
sheet only when the pointer first rests on one of its points: 100k images are 25 sheets, and
a page that shows none of them downloads none.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from headstart.data.imageset import ImageSet
from headstart.errors import HeadstartError
from headstart.io import atomic_write, write_text

SIZE = 32  # px per thumbnail side: Fashion-MNIST's 28 px are kept, larger images shrink
PER_SIDE = 64  # thumbnails per sheet side: 4096 per sheet, a 2048 px square at 32 px
QUALITY = 80
BATCH = 1024


@dataclass(frozen=True)
class Sprites:
    """Where the sheets of `n` thumbnails are and how they are laid out."""

    folder: str
    n: int
    size: int = SIZE
    per_side: int = PER_SIDE
    key: str = ""

    @property
    def per_sheet(self) -> int:
        return self.per_side * self.per_side

    @property
    def sheets(self) -> int:
        return -(-self.n // self.per_sheet)

    def path(self, sheet: int) -> Path:
        if not 0 <= sheet < self.sheets:
            raise HeadstartError(f"no sprite sheet {sheet} (there are {self.sheets})", fix="ask for 0..sheets-1")
        return Path(self.folder) / f"sheet-{sheet:04d}.webp"

    def layout(self) -> dict:
        """What the page needs to cut thumbnail i out of its sheet."""
        return {"n": self.n, "size": self.size, "per_side": self.per_side, "sheets": self.sheets}


def render_sheet(images: np.ndarray, size: int, per_side: int) -> bytes:
    """One WebP sheet from uint8 thumbnails `(m, C, size, size)`, m <= per_side**2, C 1 or 3."""
    m, c = images.shape[:2]
    rows = max(1, -(-m // per_side))
    canvas = np.zeros((rows * size, per_side * size, c), dtype=np.uint8)
    for k in range(m):
        r, col = divmod(k, per_side)
        canvas[r * size:(r + 1) * size, col * size:(col + 1) * size] = images[k].transpose(1, 2, 0)
    img = Image.fromarray(canvas[..., 0] if c == 1 else canvas, mode="L" if c == 1 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=QUALITY, method=4)
    return buf.getvalue()


def make_sprites(data: ImageSet, folder: Path, *, key: str, size: int = SIZE,
                 per_side: int = PER_SIDE) -> Sprites:
    """The sheets of every image of `data` in `folder`, made unless `folder` holds them for `key`.

    Args:
        data: the images, in the order of the embedding rows.
        folder: cache folder (e.g. `<run>/explore/<data>/thumbs`).
        key: names the image set (e.g. a hash of its paths); other sheets in `folder` are remade.

    Example:
        >>> sprites = make_sprites(open_data("fashion-mnist:test"), run / "explore/fm/thumbs", key="fm")
    """
    sprites = Sprites(str(folder), len(data), size, per_side, key)
    manifest = folder / "sprites.json"
    if manifest.is_file() and json.loads(manifest.read_text()) == asdict(sprites) and all(
            sprites.path(s).is_file() for s in range(sprites.sheets)):
        return sprites
    folder.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)  # a half-remade cache is never taken for a whole one
    small = data.with_format(size=size, channels=data.channels)
    for s in range(sprites.sheets):
        rows = range(s * sprites.per_sheet, min(len(data), (s + 1) * sprites.per_sheet))
        parts = [small.__getitems__(list(rows[i:i + BATCH]))[0].numpy() for i in range(0, len(rows), BATCH)]
        blob = render_sheet(np.concatenate(parts), size, per_side)
        atomic_write(sprites.path(s), lambda f, b=blob: f.write(b))
    write_text(manifest, json.dumps(asdict(sprites)))
    return sprites


def image_png(data: ImageSet, index: int) -> bytes:
    """Image `index` of `data` as PNG bytes, at the size the set stores it."""
    img = data.__getitems__([index])[0][0].numpy()  # (C, H, W) uint8
    pil = Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
