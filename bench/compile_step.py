"""Eager vs `torch.compile` (inductor) for CPU pretraining: whole-process wall time (compile time
included), steady images/s, and the share of this CPU's bf16 GEMM peak the step reaches.

Each cell is one `headstart pretrain` process (SimCLR on Fashion-MNIST, `--no-monitor`, default
precision), `--compile off` then `on`. Steady img/s is the median of metrics.csv's rows in the
second half of the run (after compilation and warm-up). FLOPs per view (forward + backward of the
backbone) come from `torch.utils.flop_counter` on the backbone at the run's size; the peak is
measured by `bench/peers.py --ceiling` on this machine (2.4 TFLOP/s bf16 on 2 cores; `--peak`).

    python bench/compile_step.py --steps 120 --json bench/out/compile.json
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CELLS = {  # name: (model, image size, batch size)
    "resnet-mini 28 px": ("headstart/resnet-mini", 28, 256),
    "ResNet-18 64 px": ("torchvision/resnet18", 64, 128),
}


def flops_per_view(model: str, size: int) -> float:
    """Forward + backward FLOPs of the backbone for one view (fp32 count; the same in bf16)."""
    from torch.utils.flop_counter import FlopCounterMode

    from headstart.models.factory import create_backbone

    backbone = create_backbone(model, image_size=size)
    x = torch.rand(2, 3, size, size)  # prepare() converts to the channels the model takes
    with FlopCounterMode(display=False) as counter:
        backbone(x).sum().backward()
    return counter.get_total_flops() / 2


def one_run(model: str, size: int, batch: int, steps: int, compile_: str, work: Path) -> dict:
    out = work / f"{model.replace('/', '_')}-{compile_}"
    cmd = [sys.executable, "-m", "headstart.cli.main", "pretrain", "--data", "fashion-mnist", "--model", model,
           "--image-size", str(size), "--batch-size", str(batch), "--steps", str(steps), "--no-monitor",
           "--no-progress", "--compile", compile_, "--out", str(out), "--overwrite"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    with (out / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("img_s")]
    late = [float(r["img_s"]) for r in rows if int(float(r["step"])) >= steps // 2]
    return {"wall_s": round(wall, 1), "img_s": round(statistics.median(late), 1) if late else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--peak", type=float, default=2.4e12, help="bf16 GEMM peak, FLOP/s")
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated cell names")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="compile-") as work:
        for name in args.cells.split(","):
            model, size, batch = CELLS[name]
            per_view = flops_per_view(model, size)
            for compile_ in ("off", "on"):
                row = {"cell": name, "compile": compile_, "steps": args.steps,
                       **one_run(model, size, batch, args.steps, compile_, Path(work))}
                if row.get("img_s"):  # SimCLR: two views per image
                    row["peak_pct"] = round(100 * row["img_s"] * 2 * per_view / args.peak, 1)
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
