"""YOLO detection format: `data.yaml` (`path`, `train`, `val`, optional `test`, `names`),
images under `images/<split>/`, one `labels/<split>/<stem>.txt` per image.

A label line is `class cx cy w h`, normalized to [0, 1] (a polygon line `class x1 y1 x2 y2 ...`
of the segmentation variant gives its bounding box). An image without a label file, or with an
empty one, is background. A malformed line, an unknown class id or a box outside the image is
skipped with a `LabelWarning` naming `file:line`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from headstart.data.decode import image_size
from headstart.data.dense.dataset import (
    DenseSet,
    auto_side,
    decode_all,
    list_images,
    probe_channels,
    warn_label,
)
from headstart.errors import HeadstartError

TOLERANCE = 0.01  # normalized coordinates this far outside [0, 1] are rounding, and clipped


def read_yaml(path: Path) -> tuple[Path, dict]:
    """(dataset root, the parsed data.yaml); `path` is the yaml or the folder holding it."""
    yml = path / "data.yaml" if path.is_dir() else path
    if not yml.is_file():
        raise HeadstartError(f"{path}: no data.yaml", fix="a YOLO dataset needs data.yaml with path, train, val, names")
    try:
        spec = yaml.safe_load(yml.read_text()) or {}
    except yaml.YAMLError as err:
        raise HeadstartError(f"{yml} is not valid YAML ({err.__class__.__name__})", fix="fix the file") from None
    root = Path(spec.get("path") or yml.parent)
    return (root if root.is_absolute() else yml.parent / root), spec


def class_names(spec: dict, where: Path) -> list[str]:
    names = spec.get("names")
    if isinstance(names, dict):
        names = [str(names[k]) for k in sorted(names)]
    if not names:
        raise HeadstartError(f"{where} has no `names`", fix="list the class names in data.yaml: names: [a, b]")
    return [str(n) for n in names]


def read_yolo(path: Path, split: str, *, size: int | None = None, on_bad_image: str = "skip") -> DenseSet:
    """The `split` ("train", "val" or "test") of the YOLO dataset at `path` (data.yaml or its folder)."""
    root, spec = read_yaml(path)
    classes = class_names(spec, path)
    if not spec.get(split):
        raise HeadstartError(f"{path}: data.yaml names no `{split}` split", fix=f"add `{split}: images/{split}`")
    folders = spec[split] if isinstance(spec[split], list) else [spec[split]]
    paths = [p for f in folders for p in list_images(root / f)]
    if not paths:
        raise HeadstartError(f"{path}: no images under {', '.join(str(root / f) for f in folders)}",
                             fix="put the images in the folders data.yaml names")
    size = size or auto_side(*(image_size(paths[0]) or (640, 640))[::-1])
    kept, images, sizes = decode_all(paths, size, probe_channels(paths), on_bad_image)
    boxes, labels = [], []
    for i in kept:
        b, c = read_labels(label_file(Path(paths[i])), len(classes))
        boxes.append(b * torch.tensor([size, size, size, size], dtype=torch.float32))
        labels.append(c)
    return DenseSet([paths[i] for i in kept], images, classes, boxes, labels, sizes, source=f"{path}:{split}")


def label_file(image: Path) -> Path:
    """`.../images/<split>/x.jpg` -> `.../labels/<split>/x.txt` (the last `images` part replaced)."""
    parts = list(image.parts)
    idx = max((i for i, p in enumerate(parts) if p == "images"), default=None)
    if idx is None:
        return image.with_suffix(".txt")
    parts[idx] = "labels"
    return Path(*parts).with_suffix(".txt")


def read_labels(path: Path, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized xyxy boxes `(n, 4)` and class ids `(n,)` of one label file; none if it is missing."""
    boxes, labels = [], []
    if not path.is_file():
        return torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parsed = parse_line(line, num_classes)
        if isinstance(parsed, str):
            warn_label(f"{path}:{number}", parsed)
            continue
        labels.append(parsed[0])
        boxes.append(parsed[1])
    if not boxes:
        return torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    return torch.tensor(boxes, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)


def parse_line(line: str, num_classes: int) -> tuple[int, list[float]] | str:
    """(class, normalized xyxy) of one label line, or why it is skipped."""
    fields = line.split()
    try:
        values = [float(v) for v in fields[1:]]
        cls = int(fields[0])
    except ValueError:
        return f"malformed line {line.strip()[:40]!r} (expected: class cx cy w h)"
    if not (len(values) == 4 or (len(values) >= 6 and len(values) % 2 == 0)):
        return f"malformed line {line.strip()[:40]!r} (expected: class cx cy w h)"
    if not 0 <= cls < num_classes:
        return f"unknown class id {cls} (data.yaml names {num_classes} classes)"
    if len(values) == 4:
        cx, cy, w, h = values
        x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    else:  # polygon: its bounding box
        xs, ys = values[0::2], values[1::2]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    if min(x0, y0) < -TOLERANCE or max(x1, y1) > 1 + TOLERANCE or not (x1 > x0 and y1 > y0):
        return f"box outside the image or empty ({x0:.3f}, {y0:.3f}, {x1:.3f}, {y1:.3f} normalized)"
    return cls, [min(max(v, 0.0), 1.0) for v in (x0, y0, x1, y1)]
