"""COCO JSON: `images` (id, file_name), `annotations` (image_id, category_id, bbox `[x, y, w, h]`,
segmentation as polygons or RLE, iscrowd), `categories` (id, name).

Image files are looked up next to the JSON, in `images/` beside it, or in `images/` one folder
up (the `annotations/` + `images/` layout). For detection, crowd regions are left out (COCO's
evaluation ignores them too); for segmentation every annotation is painted into a label map
(category index + 1, 0 = background) by `pycocotools`. An annotation with an unknown category,
a box outside its image or an unknown image id is skipped with a `LabelWarning` naming
`file: annotation i (id n)`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from headstart.data.dense.dataset import (
    DenseSet,
    auto_side,
    decode_all,
    probe_channels,
    resize_map,
    scale_boxes,
    warn_label,
)
from headstart.errors import HeadstartError

TOLERANCE = 1.0  # pixels a box may stick out of its image (rounding), clipped


def read_coco_json(path: Path) -> dict:
    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HeadstartError(f"{path} is not a readable JSON file ({err.__class__.__name__})",
                             fix="pass a COCO annotations .json") from None
    if not isinstance(spec, dict) or not all(k in spec for k in ("images", "annotations", "categories")):
        raise HeadstartError(f"{path} is not COCO JSON (needs images, annotations and categories)",
                             fix="pass a COCO annotations .json")
    return spec


def image_path(json_path: Path, file_name: str) -> Path:
    here = json_path.parent
    for folder in (here, here / "images", here.parent / "images", here.parent):
        if (folder / file_name).is_file():
            return folder / file_name
    return here / file_name  # missing: reported as a bad image


def read_coco(path: Path, *, task: str, size: int | None = None, on_bad_image: str = "skip") -> DenseSet:
    """Every image of the COCO file `path`, with boxes (`task` "detect") or label maps ("segment")."""
    spec = read_coco_json(path)
    cats = sorted(spec["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}
    names = [str(c.get("name", c["id"])) for c in cats]
    images = sorted(spec["images"], key=lambda im: im["id"])
    if not images:
        raise HeadstartError(f"{path} lists no images", fix="pass a COCO file with images")
    paths = [str(image_path(path, im["file_name"])) for im in images]
    size = size or auto_side(int(images[0].get("height", 640)), int(images[0].get("width", 640)))
    kept, pixels, sizes = decode_all(paths, size, probe_channels(paths), on_bad_image)
    anns = annotations_by_image(path, spec["annotations"], images, index)
    kept_images = [images[i] for i in kept]
    if task == "segment":
        maps = torch.stack([label_map(anns.get(im["id"], []), hw, size) for im, hw in zip(kept_images, sizes)]) \
            if kept else torch.zeros(0, size, size, dtype=torch.uint8)
        empty = [torch.zeros(0, 4)] * len(kept)
        return DenseSet([paths[i] for i in kept], pixels, ["background", *names], empty,
                        [torch.zeros(0, dtype=torch.long)] * len(kept), sizes, maps, source=str(path))
    boxes, labels = [], []
    for im, hw in zip(kept_images, sizes, strict=True):
        own = [a for a in anns.get(im["id"], []) if not a.get("iscrowd")]
        b = torch.tensor([a["_xyxy"] for a in own], dtype=torch.float32).reshape(-1, 4)
        boxes.append(scale_boxes(b, hw, size))
        labels.append(torch.tensor([index[a["category_id"]] for a in own], dtype=torch.long))
    return DenseSet([paths[i] for i in kept], pixels, names, boxes, labels, sizes, source=str(path))


def annotations_by_image(path: Path, anns: list, images: list, index: dict) -> dict[int, list[dict]]:
    """Checked annotations grouped by image id, each with its clipped `_xyxy` box."""
    sizes = {im["id"]: (im.get("height"), im.get("width")) for im in images}
    out: dict[int, list[dict]] = {}
    for i, a in enumerate(anns):
        where = f"{path}: annotation {i} (id {a.get('id', '?')})"
        reason = check_annotation(a, sizes, index)
        if isinstance(reason, str):
            warn_label(where, reason)
            continue
        out.setdefault(a["image_id"], []).append({**a, "_xyxy": reason, "_class": index[a["category_id"]] + 1})
    return out


def check_annotation(a: dict, sizes: dict, index: dict) -> list[float] | str:
    """The clipped xyxy box of a valid annotation, or why it is skipped."""
    if a.get("image_id") not in sizes:
        return f"unknown image id {a.get('image_id')!r}"
    if a.get("category_id") not in index:
        return f"unknown category id {a.get('category_id')!r}"
    try:
        x, y, w, h = (float(v) for v in a["bbox"])
    except (KeyError, TypeError, ValueError):
        return "malformed bbox (expected [x, y, width, height])"
    H, W = sizes[a["image_id"]]
    H, W = H or float("inf"), W or float("inf")
    if w <= 0 or h <= 0 or x < -TOLERANCE or y < -TOLERANCE or x + w > W + TOLERANCE or y + h > H + TOLERANCE:
        return f"box outside the image or empty ([{x:g}, {y:g}, {w:g}, {h:g}] in {W}x{H})"
    return [max(x, 0.0), max(y, 0.0), min(x + w, W), min(y + h, H)]


def label_map(anns: list[dict], hw: tuple[int, int], size: int) -> torch.Tensor:
    """uint8 `(size, size)`: each annotation's pixels = its category index + 1, in file order."""
    mask_utils = coco_mask()
    h, w = hw
    out = np.zeros((h, w), dtype=np.uint8)
    for a in anns:
        seg = a.get("segmentation")
        if not seg:  # a box without a mask: the box is the region
            x0, y0, x1, y1 = (round(v) for v in a["_xyxy"])
            out[y0:y1, x0:x1] = a["_class"]
            continue
        if isinstance(seg, list):  # polygons
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg.get("counts"), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(seg, h, w)
        else:
            rle = seg
        out[mask_utils.decode(rle).astype(bool)] = a["_class"]
    return resize_map(torch.from_numpy(out), size)


def coco_mask():
    """pycocotools' mask module: only COCO masks need it, so only they ask for the `dense` extra."""
    try:
        from pycocotools import mask
    except ModuleNotFoundError:
        raise HeadstartError("reading COCO segmentation masks needs pycocotools",
                             fix="pip install 'headstart[dense]'") from None
    return mask
