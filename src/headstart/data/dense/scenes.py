"""Scenes composed from real Fashion-MNIST objects, with exact boxes and masks (seeded).

A legitimate synthetic-from-real task for tests, the demo and benchmarks: every pixel of an
object is a real Fashion-MNIST pixel; only the layout is drawn. Each scene places 1-3 items,
each resized by a random factor, at random positions on a dark canvas (overlapping others by at
most `max_iou`). An item's box is the tight box of its nonzero pixels; its mask is its pixels
above `MASK_THRESHOLD`, labelled class + 1 (0 = background), later items on top.

    scenes = compose_scenes(images, labels, count=200, size=96, seed=0)
    write_yolo(root, {"train": scenes[:160], "val": scenes[160:]}, names)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MASK_THRESHOLD = 32


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
                   max_iou: float = 0.2, seed: int = 0) -> list[Scene]:
    """`count` scenes of `size` x `size` from `images` uint8 `(N, h, w)` with class ids `labels`."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(count):
        canvas = np.zeros((size, size), dtype=np.uint8)
        boxes, classes, masks = [], [], []
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
                if all(_iou(box, b) <= max_iou for b in boxes):
                    break
            else:
                continue
            region = canvas[y:y + side, x:x + side]
            np.maximum(region, item, out=region)
            mask = np.zeros((size, size), dtype=bool)
            mask[y:y + side, x:x + side] = item > MASK_THRESHOLD
            boxes.append(box)
            classes.append(int(labels[i]))
            masks.append(mask)
        scenes.append(Scene(canvas, boxes, classes, masks))
    return scenes


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
