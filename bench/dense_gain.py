"""Head start in mAP: detection fine-tuning from a pretraining run vs from scratch, same recipe.

Scenes composed from real Fashion-MNIST items (`headstart.data.dense.scenes`; training and
validation scenes from the training images, test scenes from the test images), written as a
YOLO dataset; `headstart finetune --task detect` from each start, scored on the test scenes.

    python bench/dense_gain.py --pretrained runs/fm --out /tmp/dense-gain
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import headstart
from headstart.data.dense.scenes import compose_scenes, write_yolo
from headstart.data.idx import open_idx


def make_data(root: Path, args: argparse.Namespace) -> Path:
    train, test = open_idx("fashion-mnist", "train"), open_idx("fashion-mnist", "test")
    common = {"size": args.size, "objects": (1, 3), "scale": (0.6, 1.0)}
    pool = compose_scenes(train.images[:, 0].numpy(), train.labels, count=args.labeled + args.val, seed=args.seed,
                          **common)
    held = compose_scenes(test.images[:, 0].numpy(), test.labels, count=args.test, seed=10_000 + args.seed, **common)
    return write_yolo(root, {"train": pool[:args.labeled], "val": pool[args.labeled:], "test": held}, train.classes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrained", required=True, help="a headstart pretraining run folder (resnet-mini)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--labeled", type=int, default=100)
    p.add_argument("--val", type=int, default=50)
    p.add_argument("--test", type=int, default=200)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--strategies", nargs="+", default=["full"])
    p.add_argument("--starts", nargs="+", default=["scratch", "pretrained"], choices=["scratch", "pretrained"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    data = make_data(args.out / "data", args)
    rows = []
    for strategy in args.strategies:
        for kind in args.starts:
            t = time.perf_counter()
            start, name = ("scratch" if kind == "scratch" else args.pretrained), f"{strategy}-{kind}"
            headstart.finetune(from_=start, model="headstart/resnet-mini", data=str(data.parent), task="detect",
                               strategy=strategy, steps=args.steps, batch_size=args.batch_size, image_size=args.size,
                               seed=args.seed, out=args.out / name, overwrite=True, progress=False)
            r = json.loads((args.out / name / "results.json").read_text())
            rows.append({"cell": name, "map50": r["map50"], "map": r["map"], "val_map50": r["val_map50"],
                         "seconds": round(time.perf_counter() - t, 1)})
            print(json.dumps(rows[-1]), flush=True)
    (args.out / "figures.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
