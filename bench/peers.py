"""headstart against LightlyTrain and lightly on this machine: same images, model, batch, method.

    bash bench/peers_setup.sh                # once: lightly-train + lightly in bench/.peers-venv
    python -P bench/peers.py                 # 3 alternating runs of every tool, then the table
    python -P bench/peers.py --only folder --reps 1

Each run is a whole process (start-up, data reading and training together), timed from launch
to exit; peak RSS is the largest process of its tree (`wait4`'s rusage). Images/s is measured
inside the run by a step-time hook (a `sitecustomize` on PYTHONPATH that adds one callback to
every Lightning Trainer; the plain lightly loop records its own steps) over the steps after the
first three. Scenarios, SimCLR and batch 128 everywhere:

- folder: 2,000 Fashion-MNIST images upscaled to 64 px RGB JPEGs; torchvision ResNet-18 at 64 px,
  45 steps. `headstart pretrain` vs `lightly-train pretrain ... epochs=3` (its default fp32 on
  CPU, and with precision=bf16-mixed) vs a plain PyTorch loop with lightly's transforms and
  NTXentLoss as in lightly's examples (examples/pytorch/simclr.py), in fp32 as written there and
  with bf16 autocast and channels-last tensors ("lightly loop bf16", headstart's own precision and
  layout), so a ratio shows the implementation and not only the precision.
- memory: Fashion-MNIST from the IDX files (60,000 images), ResNet-18 at 64 px, 45 steps;
  headstart vs the lightly loop (LightlyTrain reads folders only).
- mini: headstart/resnet-mini at 28 px on in-memory Fashion-MNIST, 45 steps; headstart vs the
  lightly loop on the same net.

The ceiling: a 4096^3 GEMM in bf16 and fp32, and the FLOPs of one headstart training step
(`FlopCounterMode`, forward + backward), so achieved FLOP/s = FLOPs/step x steps/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "peers"
FOLDER = ROOT / "bench" / "out" / "fmnist64"
PEERS = ROOT / "bench" / ".peers-venv" / "bin"
HS = Path(sys.executable).parent
BATCH, STEPS, WARMUP = 128, 45, 3
THREADS = 0  # --threads: OMP_NUM_THREADS for every run (0: each tool's default)

HOOK = '''import importlib, importlib.util, os, sys, time
_times = []
def _dump():
    if _times:
        with open(os.environ["PEERS_STEPS"], "w") as f:
            f.write("\\n".join(map(repr, _times)))
def _patch(mod, pkg):
    Callback = importlib.import_module(pkg + ".callbacks").Callback
    class StepTimes(Callback):
        def on_train_batch_end(self, *args, **kwargs):
            _times.append(time.time())
        def on_train_end(self, *args, **kwargs):
            _dump()
    init = mod.Trainer.__init__
    def __init__(self, *args, **kwargs):
        cbs = kwargs.get("callbacks") or []
        kwargs["callbacks"] = [*(cbs if isinstance(cbs, list) else [cbs]), StepTimes()]
        init(self, *args, **kwargs)
    mod.Trainer.__init__ = __init__
class _Finder:
    names = {"lightning.pytorch.trainer.trainer": "lightning.pytorch",
             "pytorch_lightning.trainer.trainer": "pytorch_lightning"}
    def find_spec(self, name, path, target=None):
        if name not in self.names:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            _patch(module, self.names[name])
        spec.loader.exec_module = exec_module
        return spec
if os.environ.get("PEERS_STEPS"):
    sys.meta_path.insert(0, _Finder())
'''


def make_folder(n: int = 2000, size: int = 64) -> Path:
    """The first `n` Fashion-MNIST training images, bilinear-upscaled to `size` px RGB JPEGs (q95)."""
    if FOLDER.is_dir() and len(os.listdir(FOLDER)) == n:
        return FOLDER
    from PIL import Image

    images = read_idx("train-images-idx3-ubyte.gz")
    FOLDER.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        im = Image.fromarray(images[i]).resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
        im.save(FOLDER / f"{i:05d}.jpg", quality=95)
    return FOLDER


def read_idx(name: str):
    """uint8 (N, 28, 28) Fashion-MNIST images from the system copy of the IDX file."""
    import gzip

    import numpy as np

    with gzip.open(f"/usr/share/datasets/fashion-mnist/{name}") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)


def commands(scenario: str, out: Path) -> dict[str, list[str]]:
    """Tool name -> the command line of one run of `scenario`, writing into `out/<tool>/run`."""
    hs = [str(HS / "headstart"), "pretrain", "--method", "simclr", "--steps", str(STEPS), "--batch-size",
          str(BATCH), "--no-progress", "--no-monitor"]
    loop = [str(PEERS / "python"), "-P", __file__, "--steps", str(STEPS), "--lightly-loop", scenario, "--out"]
    if scenario == "folder":
        lt = [str(PEERS / "lightly-train"), "pretrain", f"data={FOLDER}", "model=torchvision/resnet18",
              "method=simclr", f"epochs={STEPS // (2000 // BATCH)}", f"batch_size={BATCH}",
              "transform_args.image_size=[64,64]"]
        return {"headstart": hs + ["--data", str(FOLDER), "--model", "torchvision/resnet18", "--image-size", "64",
                                   "--out", str(out / "headstart" / "run")],
                "lightly-train": lt + [f"out={out / 'lightly-train' / 'run'}"],
                "lightly-train bf16": lt + ["precision=bf16-mixed", f"out={out / 'lightly-train-bf16' / 'run'}"],
                "lightly loop": loop + [str(out / "lightly-loop" / "run")],
                "lightly loop bf16": loop + [str(out / "lightly-loop-bf16" / "run"), "--loop-bf16"]}
    model, size = ("torchvision/resnet18", "64") if scenario == "memory" else ("headstart/resnet-mini", "28")
    return {"headstart": hs + ["--data", "fashion-mnist", "--model", model, "--image-size", size,
                               "--out", str(out / "headstart" / "run")],
            "lightly loop": loop + [str(out / "lightly-loop" / "run")],
            "lightly loop bf16": loop + [str(out / "lightly-loop-bf16" / "run"), "--loop-bf16"]}


def run_once(cmd: list[str], out: Path) -> dict:
    """Run one whole process; wall time, peak RSS and step times."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    hook = OUT / "hook"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    steps_file = out / "steps.txt"
    env = {**os.environ, "PYTHONPATH": str(hook), "PEERS_STEPS": str(steps_file),
           "LIGHTLY_TRAIN_EVENTS_DISABLED": "1"}  # no telemetry thread (there is no internet here)
    if THREADS:
        env["OMP_NUM_THREADS"] = str(THREADS)  # torch's intra-op threads in every tool
    start = time.time()
    with open(out / "log.txt", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    times = [float(t) for t in steps_file.read_text().split()] if steps_file.is_file() else []
    res = {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
           "steps": len(times), "rc": proc.returncode, "first_step_s": times[0] - start if times else None}
    if len(times) > WARMUP + 1:
        res["img_s"] = BATCH * (len(times) - WARMUP) / (times[-1] - times[WARMUP - 1])
    if proc.returncode != 0:
        print(f"  FAILED ({proc.returncode}): see {out / 'log.txt'}", file=sys.stderr)
    return res


def measure(scenarios: list[str], reps: int, tools: set[str] | None) -> dict:
    """Alternate the tools of each scenario `reps` times; every run's figures."""
    results: dict = {}
    for rep in range(reps):
        for scenario in scenarios:
            for tool, cmd in commands(scenario, OUT / scenario).items():
                if tools and tool not in tools:
                    continue
                res = run_once(cmd, OUT / scenario / tool.replace(" ", "-"))
                results.setdefault(scenario, {}).setdefault(tool, []).append(res)
                shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in res.items()}
                print(f"[{rep + 1}/{reps}] {scenario:6} {tool:18} {shown}  load {os.getloadavg()[0]:.1f}",
                      flush=True)
    return results


# scenario -> (model, size, channels) that headstart trains there
MODELS = {"folder": ("torchvision/resnet18", 64, 3), "memory": ("torchvision/resnet18", 64, 1),
          "mini": ("headstart/resnet-mini", 28, 1)}


def ceiling() -> dict:
    """The machine's peak FLOP/s and the FLOPs of one headstart SimCLR step per model.

    Peak: the best of large matmuls and of 1x1 convolutions of the same sizes (oneDNN; on AMD
    CPUs MKL's fp32 matmul takes an AVX2 path, so the convolution is the faster fp32 GEMM), in
    bf16 and fp32, on all cores (wall time) and on one core (CPU time: other load on a shared
    machine does not inflate it). A step's FLOPs are counted by `FlopCounterMode` (forward and
    backward); its one-core CPU time is the median of 3 steps (views, forward, backward, AdamW).
    """
    import torch

    out: dict = {"threads": torch.get_num_threads()}
    for threads, clock, where in ((out["threads"], time.perf_counter, "all cores"), (1, time.process_time, "1 core")):
        torch.set_num_threads(threads)
        for dtype in (torch.bfloat16, torch.float32):
            out[f"peak {str(dtype)[6:]} TFLOP/s, {where}"] = max(_gemm_tflops(dtype, clock))
    for model, size, channels in dict.fromkeys(MODELS.values()):
        flops, seconds = _step_cost(model, size, channels)
        out[f"step GFLOP {model}@{size}"] = flops / 1e9
        out[f"step CPU s, 1 core {model}@{size}"] = seconds
    return out


def _gemm_tflops(dtype, clock):
    """TFLOP/s of (m, k) @ (k, n) GEMMs as a matmul and as a 1x1 convolution, best of 5 each."""
    import torch
    import torch.nn.functional as F

    for m, k, n in ((4096, 4096, 4096), (2048, 2048, 2048), (4096, 1024, 1024), (8192, 512, 512)):
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        x = torch.randn(m // 64, k, 8, 8, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(n, k, 1, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
        for fn in (lambda a=a, b=b: a @ b, lambda x=x, w=w: F.conv2d(x, w)):
            fn()
            yield 2 * m * k * n / min(_timed(fn, clock) for _ in range(5)) / 1e12


def _timed(fn, clock=time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


def _step_cost(model: str, size: int, channels: int) -> tuple[float, float]:
    """(FLOPs, one-core CPU seconds) of one SimCLR training step at batch 128 in bf16 autocast.

    The FLOPs are the plain model's (every convolution as a convolution); headstart runs the tiny-map
    ones on CPUs as dense products that skip padding taps, so its own count would be lower."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from headstart.methods import method_class
    from headstart.models.factory import create_backbone
    from headstart.train.memory_format import channels_last
    from headstart.train.module import Plan

    cls = method_class("simclr")
    plan = Plan(total_steps=STEPS, batch_size=BATCH, image_size=size, lr=1e-3, weight_decay=0.0)
    method = cls(create_backbone(model, image_size=size).to(memory_format=torch.channels_last),
                 cls.config_cls(), plan)
    method._gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(method.parameters(), lr=1e-3, fused=True)
    x = torch.randint(0, 256, (BATCH, channels, size, size), dtype=torch.uint8)

    def step() -> None:
        with torch.autocast("cpu", torch.bfloat16, cache_enabled=False):  # as Lightning's bf16-mixed
            loss = method.loss(method.make_views(x))[0]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:  # the model's convolution FLOPs, as MFU counts them
        step()
    channels_last(method.backbone, size, cpu=True)  # then time it laid out as `headstart pretrain` runs it
    torch.set_num_threads(1)
    seconds = sorted(_timed(step, time.process_time) for _ in range(3))[1]
    return counter.get_total_flops(), seconds


def lightly_loop(scenario: str, out: Path, bf16: bool = False) -> None:
    """SimCLR as lightly's examples/pytorch/simclr.py writes it: PIL transforms, two forwards, SGD.
    `bf16`: the same loop with bf16 autocast and channels-last tensors, as headstart runs its step, so
    that the ratio to headstart is not only the precision."""
    import torch
    import torchvision
    from lightly.data import LightlyDataset
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.transforms import SimCLRTransform
    from torch import nn

    if scenario == "mini":
        sys.path.insert(0, str(ROOT / "src"))
        from headstart.models.builtin import ResNetMini

        backbone, size = ResNetMini(), 28
        dim = backbone(torch.zeros(2, 3, size, size)).flatten(1).shape[1]  # 1024: a 2x2 grid of 256 channels
    else:
        resnet = torchvision.models.resnet18()
        backbone, dim, size = nn.Sequential(*list(resnet.children())[:-1]), 512, 64
    transform = SimCLRTransform(input_size=size, gaussian_blur=0.0 if size <= 32 else 0.5)
    if scenario == "folder":
        dataset = LightlyDataset(str(FOLDER), transform=transform)
    else:
        dataset = _MemoryFashionMNIST(read_idx("train-images-idx3-ubyte.gz"), transform)
    workers = max(1, min(8, (os.cpu_count() or 2) - 1))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True,
                                         num_workers=workers)
    model = nn.Sequential(backbone, nn.Flatten(1), SimCLRProjectionHead(dim, 512, 128))
    criterion, optimizer = NTXentLoss(), torch.optim.SGD(model.parameters(), lr=0.06)
    layout = torch.channels_last if bf16 else torch.contiguous_format
    model = model.to(memory_format=layout)
    times: list[float] = []
    while len(times) < STEPS:
        for batch in loader:
            x0, x1 = (x.contiguous(memory_format=layout) for x in batch[0])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                z0, z1 = model(x0), model(x1)
            loss = criterion(z0.float(), z1.float())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            times.append(time.time())
            if len(times) == STEPS:
                break
    os.makedirs(out, exist_ok=True)
    Path(os.environ.get("PEERS_STEPS", out / "steps.txt")).write_text("\n".join(map(repr, times)))


class _MemoryFashionMNIST:
    """torchvision's FashionMNIST served from memory: a PIL image per sample through `transform`."""

    def __init__(self, images, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i]).convert("RGB")), 0


COLUMNS = ("steps", "img_s", "wall_s", "first_step_s", "cpu_s", "rss_mib")


def summarize(results: dict, ceil: dict | None) -> str:
    """Median figures per tool, ratios against headstart, and the FLOP/s fractions."""
    rows = ["| scenario | tool | runs ok | steps | img/s | wall s | to 1st step s | CPU s | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|"]
    ratios, med = [], {}
    for scenario, tools in results.items():
        for tool, runs in tools.items():
            ok = [r for r in runs if r["rc"] == 0]
            med[scenario, tool] = m = {k: _median(ok, k) for k in COLUMNS}
            rows.append(f"| {scenario} | {tool} | {len(ok)}/{len(runs)} | "
                        + " | ".join(_fmt(m[k]) for k in COLUMNS) + " |")
        hs = med.get((scenario, "headstart"))
        for tool in tools:
            if tool != "headstart" and hs:
                p = med[scenario, tool]
                ratios.append(f"{scenario}: {tool} / headstart: wall time {_ratio(p['wall_s'], hs['wall_s'])}, "
                              f"CPU time {_ratio(p['cpu_s'], hs['cpu_s'])}, img/s {_ratio(hs['img_s'], p['img_s'])} "
                              f"(headstart's / theirs), peak RSS {_ratio(p['rss_mib'], hs['rss_mib'])}")
    lines = rows + [""] + ratios
    if ceil:
        lines += ["", "ceiling: " + ", ".join(f"{k} {v:.3g}" for k, v in ceil.items())]
        lines += _flop_fractions(med, ceil)
    return "\n".join(lines)


def _flop_fractions(med: dict, ceil: dict) -> list[str]:
    """Achieved training FLOP/s over the peak: in the runs (all cores, wall time) and per core."""
    lines = []
    for scenario, (model, size, _) in MODELS.items():
        gflop = ceil[f"step GFLOP {model}@{size}"]
        hs = med.get((scenario, "headstart"))
        if hs and hs["img_s"]:
            tflops = gflop * hs["img_s"] / BATCH / 1e3
            lines.append(f"{scenario}: headstart trains at {tflops:.3f} TFLOP/s on all cores = "
                         f"{tflops / ceil['peak bfloat16 TFLOP/s, all cores']:.0%} of the bf16 peak")
    for model, size, _ in dict.fromkeys(MODELS.values()):
        tflops = ceil[f"step GFLOP {model}@{size}"] / ceil[f"step CPU s, 1 core {model}@{size}"] / 1e3
        lines.append(f"{model}@{size}, 1 core: {tflops:.3f} TFLOP/s = "
                     f"{tflops / ceil['peak bfloat16 TFLOP/s, 1 core']:.0%} of the one-core bf16 peak")
    return lines


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def main() -> None:
    global STEPS, THREADS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", default="folder,memory,mini", help="scenarios, comma-separated")
    p.add_argument("--tools", default="", help="tools to run, comma-separated (default: all)")
    p.add_argument("--no-ceiling", action="store_true")
    p.add_argument("--ceiling", action="store_true", help=argparse.SUPPRESS)  # child: print the ceiling JSON
    p.add_argument("--lightly-loop", help=argparse.SUPPRESS)  # child, in the peers' venv
    p.add_argument("--loop-bf16", action="store_true", help=argparse.SUPPRESS)  # child: bf16 autocast, channels-last
    p.add_argument("--steps", type=int, default=STEPS, help="steps per run (a multiple of 15: 2,000 // 128)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads for every tool (1: CPU time is then the work done, even on a busy machine)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    STEPS, THREADS = args.steps, args.threads
    if args.lightly_loop:
        return lightly_loop(args.lightly_loop, args.out, bf16=args.loop_bf16)
    if args.ceiling:
        return print(json.dumps(ceiling()))
    if not (PEERS / "lightly-train").exists():
        sys.exit("bench/.peers-venv is missing: run `bash bench/peers_setup.sh` first")
    make_folder()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load {load}", flush=True)
    results = measure(args.only.split(","), args.reps, set(filter(None, args.tools.split(","))))
    ceil = None
    if not args.no_ceiling:
        got = subprocess.run([sys.executable, "-P", __file__, "--ceiling"], capture_output=True, text=True,
                             cwd=ROOT, check=False)
        ceil = json.loads(got.stdout.strip().splitlines()[-1]) if got.returncode == 0 else None
        if ceil is None:
            print(got.stderr[-2000:], file=sys.stderr)
    report = summarize(results, ceil)
    print(f"\nload after: {os.getloadavg()}\n" + report)
    OUT.mkdir(parents=True, exist_ok=True)
    name = "results-" + args.only.replace(",", "-") + (f"-threads{THREADS}" if THREADS else "") + ".json"
    (OUT / name).write_text(json.dumps({"load_before": load, "load_after": os.getloadavg(), "runs": results,
                                        "ceiling": ceil, "report": report}, indent=1))


if __name__ == "__main__":
    main()
