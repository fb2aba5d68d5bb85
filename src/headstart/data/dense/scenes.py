"""Scenes composed from real Fashion-MNIST objects, with exact boxes and masks (seeded).

A legitimate synthetic-from-real task for tests, the demo and benchmarks: every pixel of an
object is a real Fashion-MNIST pixel; only the layout is drawn. Each scene places 1-3 items,
each resized by a random factor, at random positions (overlapping others by at most `max_iou`,
and never hiding more than `MAX_HIDDEN` of an earlier item's mask), later items on top. An item's
box is the tight box of its pixels; its mask is its visible pixels above `MASK_THRESHOLD`,
labelled class + 1 in the label map (0 = background).

The canvas is black, or (`background="texture"`) a seeded texture: smooth shading, one or two
oriented gratings and grain, at most `TEXTURE_MAX` bright. `clutter=(lo, hi)` first scatters that
many fragments of other real items (a crop of 30-60% of an item's side, any scale, rotated by
a multiple of 90 degrees): things that look like parts of objects but are neither boxes nor
mask pixels, as clutter in photos is.

    scenes = compose_scenes(images, labels, count=200, size=96, seed=0)
    hard = compose_scenes(images, labels, count=200, background="texture", clutter=(1, 3), seed=0)
    write_yolo(root, {"train": scenes[:160], "val": scenes[160:]}, names)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MASK_THRESHOLD = 32
MAX_HIDDEN = 0.4   # of an earlier item's mask a later item may cover
TEXTURE_MAX = 110  # brightest background pixel (items reach 255)


@dataclass
class Scene:
    image: np.ndarray                 # uint8 (S, S)
    boxes: list[list[int]]            # xyxy pixel edges: [xmin, ymin, xmax + 1, ymax + 1]
    classes: list[int]
    masks: list[np.ndarray]           # bool (S, S) per object

    def label_map(self) -> np.ndarray:
        out = np.zeros(self.image.shape, dtype=np.uint8)
        for m, c in zip(self.masks, self.classes, strict=True):
            out[m] = c + 1
        return out


def _iou(a: list[int], b: list[int]) -> float:
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0) * max(ih, 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def compose_scenes(images: np.ndarray, labels: np.ndarray, *, count: int, size: int = 96,
                   objects: tuple[int, int] = (1, 3), scale: tuple[float, float] = (0.8, 1.5),
                   max_iou: float = 0.2, background: str = "black", clutter: tuple[int, int] = (0, 0),
                   seed: int = 0) -> list[Scene]:
    """`count` scenes of `size` x `size` from `images` uint8 `(N, h, w)` with class ids `labels`;
    `background` "black" or "texture", `clutter` the (min, max) unlabeled fragments a scene."""
    if background not in ("black", "texture"):
        raise ValueError(f"background must be 'black' or 'texture', got {background!r}")
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(count):
        canvas = texture(size, rng) if background == "texture" else np.zeros((size, size), dtype=np.uint8)
        for _ in range(int(rng.integers(clutter[0], clutter[1] + 1))):
            _scatter_fragment(canvas, images[int(rng.integers(len(images)))], scale, rng)
        boxes, classes, masks, areas = [], [], [], []
        for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
            i = int(rng.integers(len(images)))
            side = round(images.shape[-1] * rng.uniform(*scale))
            item = np.asarray(Image.fromarray(images[i]).resize((side, side), Image.BILINEAR))
            ys, xs = np.nonzero(item)
            if len(xs) == 0:
                continue
            for _try in range(20):
                x, y = (int(v) for v in rng.integers(0, size - side + 1, size=2))
                box = [x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1]
                mask = np.zeros((size, size), dtype=bool)
                mask[y:y + side, x:x + side] = item > MASK_THRESHOLD
                if all(_iou(box, b) <= max_iou for b in boxes) and all(
                        (m & ~mask).sum() >= (1 - MAX_HIDDEN) * a for m, a in zip(masks, areas, strict=True)):
                    break
            else:
                continue
            region = canvas[y:y + side, x:x + side]
            on = item > MASK_THRESHOLD
            region[on] = item[on]                      # the item on top of what is there
            np.maximum(region, item, out=region)       # its faint edge pixels blend
            for m in masks:
                m &= ~mask
            boxes.append(box)
            classes.append(int(labels[i]))
            masks.append(mask)
            areas.append(int(mask.sum()))
        scenes.append(Scene(canvas, boxes, classes, masks))
    return scenes


def texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A uint8 `(size, size)` background: smooth shading + one or two oriented sinusoidal gratings +
    grain, scaled to at most `TEXTURE_MAX`."""
    coarse = rng.uniform(0, 1, (int(rng.integers(3, 7)),) * 2).astype(np.float32)
    shade = np.asarray(Image.fromarray(coarse, mode="F").resize((size, size), Image.BICUBIC))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = shade * rng.uniform(0.3, 1.0)
    for _ in range(int(rng.integers(1, 3))):
        angle, cycles = rng.uniform(0, np.pi), rng.uniform(2, 10)
        phase = 2 * np.pi * cycles * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 2 * np.pi)
        out += rng.uniform(0.1, 0.5) * (0.5 + 0.5 * np.sin(phase))
    out += rng.uniform(0, 0.15) * rng.uniform(0, 1, (size, size))
    out = (out - out.min()) / max(float(out.max() - out.min()), 1e-6)
    return (out * rng.uniform(0.4, 1.0) * TEXTURE_MAX).astype(np.uint8)


def _scatter_fragment(canvas: np.ndarray, item: np.ndarray, scale: tuple[float, float],
                      rng: np.random.Generator) -> None:
    """Paste a random crop of `item` (30-60% of its side, rotated by k * 90 degrees, resized like an
    item) at a random place of `canvas`, in place; it belongs to no box and no mask."""
    h, w = item.shape
    ch, cw = (max(2, round(n * rng.uniform(0.3, 0.6))) for n in (h, w))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    piece = np.rot90(item[y0:y0 + ch, x0:x0 + cw], int(rng.integers(4)))
    f = rng.uniform(*scale)
    ph, pw = (min(max(2, round(n * f)), canvas.shape[0]) for n in piece.shape)
    piece = np.asarray(Image.fromarray(np.ascontiguousarray(piece)).resize((pw, ph), Image.BILINEAR))
    y, x = int(rng.integers(0, canvas.shape[0] - ph + 1)), int(rng.integers(0, canvas.shape[1] - pw + 1))
    region = canvas[y:y + ph, x:x + pw]
    np.maximum(region, piece, out=region)


def write_yolo(root: Path, splits: dict[str, list[Scene]], names: list[str]) -> Path:
    """`root/data.yaml`, `images/<split>/*.png`, `labels/<split>/*.txt`; returns the yaml's path."""
    for split, scenes in splits.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(scenes):
            Image.fromarray(s.image).save(root / "images" / split / f"{i:05d}.png")
            h, w = s.image.shape
            lines = [f"{c} {(b[0] + b[2]) / 2 / w:.6f} {(b[1] + b[3]) / 2 / h:.6f} {(b[2] - b[0]) / w:.6f} "
                     f"{(b[3] - b[1]) / h:.6f}" for b, c in zip(s.boxes, s.classes, strict=True)]
            (root / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    spec = {"path": str(root), **{k: f"images/{k}" for k in splits}, "names": dict(enumerate(names))}
    (root / "data.yaml").write_text(json.dumps(spec))  # JSON is YAML
    return root / "data.yaml"


def write_coco(path: Path, scenes: list[Scene], names: list[str]) -> Path:
    """A COCO JSON at `path` (boxes + RLE masks), images in `images/` beside it."""
    from pycocotools import mask as mask_utils

    (path.parent / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, s in enumerate(scenes):
        name = f"{i:05d}.png"
        Image.fromarray(s.image).save(path.parent / "images" / name)
        images.append({"id": i + 1, "file_name": name, "height": s.image.shape[0], "width": s.image.shape[1]})
        for b, c, m in zip(s.boxes, s.classes, s.masks, strict=True):
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode()
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1, "iscrowd": 0,
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": int(m.sum()), "segmentation": rle})
    cats = [{"id": k + 1, "name": n} for k, n in enumerate(names)]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def write_masks(root: Path, splits: dict[str, list[Scene]], names: list[str]) -> Path:
    """`root/<split>/images/*.png` + `root/<split>/masks/*.png` and `root/classes.txt`."""
    for split, scenes in splits.items():
        for sub in ("images", "masks"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(scenes):
            Image.fromarray(s.image).save(root / split / "images" / f"{i:05d}.png")
            Image.fromarray(s.label_map()).save(root / split / "masks" / f"{i:05d}.png")
    (root / "classes.txt").write_text("\n".join(names) + "\n")
    return root
