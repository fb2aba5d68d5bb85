"""`--data` for `--task detect|segment`: a path with an optional `:train`, `:val` or `:test` suffix.

    ./yolo_dataset (or its data.yaml)    YOLO detection format
    ./coco/annotations.json              COCO JSON (boxes; polygons and RLE for segment)
    ./seg                                images/ + masks/ (PNG label maps)
"""

from __future__ import annotations

from pathlib import Path

from headstart.data.dense.coco import read_coco
from headstart.data.dense.dataset import DenseSet
from headstart.data.dense.masks import is_mask_folder, read_masks, split_dirs
from headstart.data.dense.yolo import read_yaml, read_yolo
from headstart.errors import HeadstartError

DENSE_SPLITS = ("train", "val", "test")
FORMATS = "a YOLO dataset (data.yaml), a COCO .json, or a folder with images/ and masks/"


def parse_dense_spec(spec: str, default_split: str = "train") -> tuple[Path, str | None]:
    """(path, split); split None when the spec names none (the caller's default applies)."""
    if Path(spec).exists():
        return Path(spec), None
    head, sep, tail = spec.rpartition(":")
    if sep and tail in DENSE_SPLITS and Path(head).exists():
        return Path(head), tail
    raise HeadstartError(f"no such file or folder: {spec}", fix=f"pass {FORMATS}, optionally with :val or :test")


def data_format(path: Path) -> str:
    """"yolo", "coco" or "masks"."""
    if path.suffix == ".json":
        return "coco"
    if path.suffix in (".yaml", ".yml") or (path / "data.yaml").is_file():
        return "yolo"
    if path.is_dir() and is_mask_folder(path):
        return "masks"
    raise HeadstartError(f"{path} is none of the detection/segmentation formats", fix=f"pass {FORMATS}")


def has_split(spec: str, split: str) -> bool:
    """Whether the data at `spec` holds its own `split` (a COCO file holds one set only)."""
    path, _ = parse_dense_spec(spec)
    kind = data_format(path)
    if kind == "yolo":
        return bool(read_yaml(path)[1].get(split))
    if kind == "masks":
        try:
            images, _ = split_dirs(path, split)
        except HeadstartError:
            return False
        return split == "train" or images != path / "images"
    return split == "train"


def open_dense(spec: str, *, task: str, split: str = "train", size: int | None = None,
               on_bad_image: str = "skip") -> DenseSet:
    """Boxes (`task` "detect") or label maps ("segment") of the data at `spec`, images at side `size`."""
    path, named = parse_dense_spec(spec)
    split = named or split
    kind = data_format(path)
    if task == "detect" and kind == "masks":
        raise HeadstartError(f"{spec} holds label maps, not boxes", fix="pass YOLO or COCO data for --task detect")
    if task == "segment" and kind == "yolo":
        raise HeadstartError(f"{spec} is YOLO box data, not masks",
                             fix="pass images/ + masks/ or COCO polygons for --task segment")
    if kind == "yolo":
        data = read_yolo(path, split, size=size, on_bad_image=on_bad_image)
    elif kind == "coco":
        data = read_coco(path, task=task, size=size, on_bad_image=on_bad_image)
    else:
        data = read_masks(path, split, size=size, on_bad_image=on_bad_image)
    if len(data) == 0:
        raise HeadstartError(f"{spec}: no readable images", fix="check the files (warnings above name them)")
    return data
