"""Small detection/segmentation sets composed from real Fashion-MNIST items (synthetic layout,
real pixels; `headstart.data.dense.scenes`), written as YOLO, COCO JSON and mask folders."""

from __future__ import annotations

from pathlib import Path

from headstart.data.dense.scenes import Scene, compose_scenes, write_coco, write_masks, write_yolo

SIZE = 48  # canvas side: small, so a CPU test trains in seconds


def scenes(fmnist, count: int = 40, *, seed: int = 0, objects: tuple[int, int] = (1, 2)) -> list[Scene]:
    return compose_scenes(fmnist.images[:2000, 0].numpy(), fmnist.labels[:2000], count=count, size=SIZE,
                          objects=objects, scale=(0.6, 0.9), seed=seed)


def yolo_set(root: Path, fmnist, count: int = 40) -> tuple[Path, list[Scene]]:
    s = scenes(fmnist, count)
    cut = count * 4 // 5
    write_yolo(root, {"train": s[:cut], "val": s[cut:]}, fmnist.classes)
    return root, s


def mask_set(root: Path, fmnist, count: int = 40) -> tuple[Path, list[Scene]]:
    s = scenes(fmnist, count)
    cut = count * 4 // 5
    write_masks(root, {"train": s[:cut], "val": s[cut:]}, fmnist.classes)
    return root, s


def coco_set(root: Path, fmnist, count: int = 20) -> tuple[Path, list[Scene]]:
    s = scenes(fmnist, count)
    return write_coco(root / "annotations" / "instances.json", s, fmnist.classes), s
