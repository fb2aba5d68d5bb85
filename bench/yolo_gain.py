"""Head start for Ultralytics: YOLO trained from a headstart-pretrained backbone vs from scratch.

Scenes composed from real Fashion-MNIST items (`headstart.data.dense.scenes`): unlabeled scenes
from the first half of the training images, the labeled/val scenes from the second half, the test
scenes from the test images (fixed seed). A yolov8n backbone is pretrained on the unlabeled
scenes (`headstart.pretrain`) and exported as `export --format ultralytics` does; Ultralytics' own
trainer runs from that file and from a file that differs only in its backbone: the yaml's fresh
initialisation (scratch). Per seed, both files share one neck and head, drawn from that seed (the
neck/head draw moves the score by points, so it is varied across seeds and paired within one),
and both trainings share the seed. Each final model (`last.pt`, no selection on validation) is
scored on the test scenes (mAP50-95, mAP50).

    python bench/yolo_gain.py --out /tmp/yolo-gain        # 600 pretraining steps, 100 epochs, seeds 0-5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

import headstart
from headstart.data.dense.scenes import compose_scenes, write_yolo
from headstart.data.idx import open_idx
from headstart.export.ultralytics import save_ultralytics
from headstart.models.factory import create_backbone, load_run_backbone


def make_data(root: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """An unlabeled image folder and a YOLO dataset (train / val / test)."""
    train, test = open_idx("fashion-mnist", "train"), open_idx("fashion-mnist", "test")
    images, labels, half = train.images[:, 0].numpy(), train.labels, len(train.labels) // 2
    common = {"size": args.size, "objects": (1, 3), "scale": (0.8, 1.5)}
    unlabeled = compose_scenes(images[:half], labels[:half], count=args.unlabeled, seed=1, **common)
    pool = compose_scenes(images[half:], labels[half:], count=args.labeled + args.val, seed=2, **common)
    held = compose_scenes(test.images[:, 0].numpy(), test.labels, count=args.test, seed=3, **common)
    folder = root / "unlabeled"
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(unlabeled):
        Image.fromarray(s.image).save(folder / f"{i:05d}.png")
    data = write_yolo(root / "yolo", {"train": pool[:args.labeled], "val": pool[args.labeled:], "test": held},
                      train.classes)
    return folder, data


def train_and_test(start: str, data: Path, seed: int, out: Path, args: argparse.Namespace) -> dict:
    from ultralytics import YOLO  # AGPL, the `yolo` extra

    t = time.perf_counter()
    YOLO(start).train(data=str(data), epochs=args.epochs, imgsz=args.size, batch=args.ft_batch, workers=0,
                      device="cpu", seed=seed, deterministic=True, plots=False, val=False, amp=False,
                      project=str(out), name=f"{Path(start).stem}-s{seed}", exist_ok=True, verbose=False)
    last = out / f"{Path(start).stem}-s{seed}" / "weights" / "last.pt"
    m = YOLO(str(last)).val(data=str(data), split="test", imgsz=args.size, batch=32, workers=0, device="cpu",
                            plots=False, verbose=False, project=str(out), name="val", exist_ok=True)
    return {"map": round(float(m.box.map), 4), "map50": round(float(m.box.map50), 4),
            "seconds": round(time.perf_counter() - t, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default="ultralytics/yolov8n.yaml")
    p.add_argument("--method", default="simclr")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--unlabeled", type=int, default=4000)
    p.add_argument("--labeled", type=int, default=100)
    p.add_argument("--val", type=int, default=20)
    p.add_argument("--test", type=int, default=300)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--ft-batch", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    args = p.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    unlabeled, data = make_data(args.out / "data", args)
    t = time.perf_counter()
    run = args.out / "pretrain"
    if not (run / "exported" / "backbone.safetensors").is_file():
        headstart.pretrain(data=str(unlabeled), model=args.model, method=args.method, steps=args.steps,
                           batch_size=args.batch_size, image_size=args.size, out=run, overwrite=True,
                           progress=False, monitor=False)
    pretrain_s = round(time.perf_counter() - t, 1)
    rows = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        backbones = {"scratch": create_backbone(args.model), "pretrained": load_run_backbone(run)}
        for kind, backbone in backbones.items():
            start = args.out / "starts" / f"{kind}-s{seed}.pt"
            start.parent.mkdir(parents=True, exist_ok=True)
            save_ultralytics(backbone.eval(), start, source=kind, seed=seed)
            scores = train_and_test(str(start), data, seed, args.out / "ul", args)
            rows.append({"start": kind, "seed": seed, **scores})
            print(json.dumps(rows[-1]), flush=True)
    summary = {kind: {key: round(statistics.mean(r[key] for r in rows if r["start"] == kind), 4)
                      for key in ("map", "map50")} for kind in ("scratch", "pretrained")}
    (args.out / "figures.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "pretrain_seconds": pretrain_s, "rows": rows,
                                                       "mean": summary}, indent=1))
    print(json.dumps({"pretrain_seconds": pretrain_s, "mean": summary}))


if __name__ == "__main__":
    main()
