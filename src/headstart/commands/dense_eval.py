"""`headstart evaluate` and `headstart predict` for detection and segmentation runs (the shared
commands dispatch here by the run's task).

evaluate: mAP@0.5, mAP@[0.5:0.95] and per-class AP, or mIoU and per-class IoU, on `--data`
(`path:val` / `path:test` picks a split; unset: test, else val, else the whole set).
predict: COCO-style results JSON, one entry per box (`bbox` [x, y, w, h] in the image's own
pixels, `score`, `category_id` = class index + 1) or per class present in a predicted label map
(`segmentation` as COCO RLE, `category_id` = the label-map value); `--draw DIR` also writes each
image with its boxes (score >= `dense_infer.DRAW_SCORE`) or mask drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from headstart.adapt.config import EvaluateConfig, PredictConfig
from headstart.adapt.dense_infer import (
    boxes_entries,
    draw_prediction,
    full_size_map,
    predict_dense,
    score_dense,
)
from headstart.adapt.dense_model import DenseModel, load_dense
from headstart.adapt.infer import default_device
from headstart.data.dense.coco import coco_mask
from headstart.data.dense.dataset import DenseSet, decode_all, list_images, probe_channels
from headstart.data.dense.sources import has_split, open_dense, parse_dense_spec
from headstart.errors import HeadstartError
from headstart.io import write_text
from headstart.report.plots import image_row
from headstart.run import Run


def evaluate_dense(cfg: EvaluateConfig, folder: Run) -> dict:
    """The run's detector or segmenter scored on `--data`."""
    model = load_dense(folder)
    _, named = parse_dense_spec(cfg.data)
    split = named or next((s for s in ("test", "val") if has_split(cfg.data, s)), "train")
    data = open_dense(cfg.data, task=model.task, split=split, size=model.image_size, on_bad_image=cfg.on_bad_image)
    if data.classes != model.classes:
        raise HeadstartError(f"{cfg.data} has classes {data.classes[:5]}, the run was trained on {model.classes[:5]}",
                             fix="evaluate on data with the run's classes")
    scores = score_dense(model, data, batch_size=min(cfg.batch_size, 64), device=default_device())
    return {**scores, "eval_data": cfg.data, "eval_split": split, "eval_images": len(data)}


def predict_files(cfg: PredictConfig) -> Path:
    """COCO-style results of the run at `cfg.run` for every image under `cfg.data`; returns the JSON's path."""
    model = load_dense(Run(cfg.run))
    root = Path(cfg.data)
    paths = list_images(root) if root.is_dir() else [str(root)] if root.is_file() else []
    if not paths:
        raise HeadstartError(f"no images at {cfg.data}", fix="pass an image file or a folder of images")
    kept, images, sizes = decode_all(paths, model.image_size, probe_channels(paths), cfg.on_bad_image)
    data = DenseSet([paths[i] for i in kept], images, model.classes, [torch.zeros(0, 4)] * len(kept),
                    [torch.zeros(0, dtype=torch.long)] * len(kept), sizes)
    preds = predict_dense(model, data, batch_size=min(cfg.batch_size, 64), device=default_device())
    out = cfg.out if cfg.out != Path("predictions.csv") else Path("predictions.json")
    entries = []
    for i, (path, hw) in enumerate(zip(data.paths, data.sizes, strict=True)):
        own = boxes_entries(model, preds[i], hw) if model.task == "detect" else mask_entries(model, preds[i], hw)
        entries += [{"image_id": i + 1, "file_name": path, **e} for e in own]
        if cfg.draw is not None:
            target = cfg.draw / f"{i:05d}_{Path(path).stem}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(draw_prediction(model, read_rgb(path), preds[i]).permute(1, 2, 0).numpy()).save(target)
    write_text(out, json.dumps(entries))
    return out


def mask_entries(model: DenseModel, label_map: torch.Tensor, hw: tuple[int, int]) -> list[dict]:
    full = full_size_map(label_map, hw)
    out = []
    for c in np.unique(full).tolist():
        if c == 0:
            continue
        rle = coco_mask().encode(np.asfortranarray((full == c).astype(np.uint8)))
        out.append({"category_id": int(c), "category": model.classes[c], "score": 1.0,
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    return out


def read_rgb(path: str) -> torch.Tensor:
    """The image at `path` as uint8 RGB `(3, h, w)` at its own size."""
    with Image.open(path) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)


def draw_test_predictions(run: Run, target: Path, count: int = 8) -> Path:
    """The run's predictions on the first `count` images of its data's test split, drawn (enlarged
    to about 192 px) and tiled into one PNG at `target`."""
    model = load_dense(run)
    test = open_dense(run.config["data"], task=model.task, split="test", size=model.image_size)
    test = test.subset(list(range(min(count, len(test)))))
    preds = predict_dense(model, test)
    scale = max(1, 192 // model.image_size)
    return image_row([draw_prediction(model, test.images[i].expand(3, -1, -1), preds[i], scale=scale)
                      for i in range(len(test))], target)
