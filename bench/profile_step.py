"""Where one pretraining step's time goes: a torch.profiler trace of `headstart.pretrain`, grouped.

    python bench/profile_step.py                                   # ResNet-18, 64 px, SimCLR, batch 128
    python bench/profile_step.py --model headstart/resnet-mini --image-size 28 --batch-size 256

Runs the same work as `bench/peers.py`'s memory scenario (Fashion-MNIST from the IDX files,
upscaled on the fly) in this process, profiles steps `--skip` .. `--skip + --steps` with
torch.profiler (CPU activities; the data path runs in this process because in-memory data uses
no workers), and prints: the wall time per step, that time split into categories (convolution
forward, convolution backward, batch norm forward/backward, views, loss, optimizer, other
operators, and what no operator accounts for: Python, Lightning and the allocator), and the
top operators by self time. `--trace FILE` also writes a Chrome trace.

What profiles of this script led to (2-core AVX512-BF16 Xeon VM, 2026-11-29):

ResNet-18 at 64 px spent 55% of a SimCLR step in convolution backward, 40% of the step in its last
stage's four 3x3 convolutions, whose output maps are 2x2. Those convolutions, bf16, batch 256,
forward / forward + backward in ms (`train/memory_format.py` turns the first two into one dense
matrix product; 1x1 convolutions on maps under 16 pixels with channels-last kernels took 2.2x the
time of contiguous ones):

| convolution | oneDNN channels-last | as one dense matrix product |
|---|---:|---:|
| 512 -> 512, 3x3, 2x2 map | 20.8 / 112 | 5.2 / 13.0 |
| 256 -> 512, 3x3 stride 2, 4x4 -> 2x2 | 8.9 / 54.4 | 9.8 / 21.6 |
| 256 -> 256, 3x3, 4x4 map (not converted) | 3.3 / 22.8 | 21.6 / 85.5 |

Attention, 3 heads of 64, forward / forward + backward in ms (`models/attention.py` takes the
explicit path on CPUs in bf16/fp16):

| batch x tokens | bf16 fused | bf16 explicit | fp32 fused | fp32 explicit |
|---|---:|---:|---:|---:|
| 512 x 50 (28 px, patch 4: DINO's global crops) | 17.5 / 150 | 10.7 / 34 | 14.4 / 61 | 16.7 / 75 |
| 1536 x 10 (12 px local crops) | 10.2 / 166 | 3.7 / 15 | 7.0 / 27 | 8.3 / 66 |
| 256 x 197 (224 px, patch 16) | 85 / 318 | 64 / 202 | 85 / 269 | 182 / 453 |

A DINO step on `headstart/vit-tiny` (batch 256, 2 global + 6 local crops) went from 5.2 to 3.7 s
with the explicit path.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch

# operator self-time categories, first match wins; names as torch.profiler reports them on CPU
CATEGORIES = [
    ("conv backward", ("convolution_backward", "mkldnn_convolution_backward", "ConvolutionBackward")),
    ("conv forward", ("mkldnn_convolution", "aten::_convolution", "aten::convolution", "aten::conv2d")),
    ("batch norm backward", ("batch_norm_backward", "BatchNormBackward")),
    ("batch norm forward", ("batch_norm", "_batch_norm")),
    ("linear/matmul", ("aten::addmm", "aten::mm", "aten::bmm", "aten::matmul", "aten::linear")),
    ("optimizer", ("_foreach", "Optimizer.step", "adamw", "aten::_fused_adamw")),
    ("dtype copies", ("aten::copy_", "aten::to", "aten::_to_copy", "aten::clone", "aten::contiguous")),
    ("pooling/activation", ("max_pool", "relu", "threshold", "adaptive_avg_pool", "mean")),
]


def category(name: str) -> str:
    for cat, keys in CATEGORIES:
        if any(k in name for k in keys):
            return cat
    return "other operators"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="torchvision/resnet18")
    p.add_argument("--method", default="simclr")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--skip", type=int, default=6, help="steps run before profiling starts")
    p.add_argument("--steps", type=int, default=8, help="steps profiled")
    p.add_argument("--trace", default=None, help="write a Chrome trace here")
    a = p.parse_args()

    import lightning as L

    import headstart

    state: dict = {}

    class Profile(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, idx):
            if trainer.global_step == a.skip:
                state["prof"] = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                state["prof"].__enter__()
                state["t0"] = time.perf_counter()

        def on_train_batch_end(self, trainer, module, out, batch, idx):
            if trainer.global_step == a.skip + a.steps and "t1" not in state:
                state["t1"] = time.perf_counter()
                state["prof"].__exit__(None, None, None)

    init = L.Trainer.__init__

    def patched(self, *args, callbacks=None, **kwargs):
        init(self, *args, callbacks=list(callbacks or []) + [Profile()], **kwargs)

    L.Trainer.__init__ = patched
    headstart.pretrain(data="fashion-mnist", model=a.model, method=a.method, batch_size=a.batch_size,
                       image_size=a.image_size, steps=a.skip + a.steps + 1, monitor=False, progress=False,
                       overwrite=True, out="bench/out/profile-run")
    prof, wall = state["prof"], (state["t1"] - state["t0"]) / a.steps
    events = prof.key_averages()
    by_cat: dict[str, float] = defaultdict(float)
    for e in events:
        by_cat[category(e.key)] += e.self_cpu_time_total / 1e6 / a.steps
    # views and loss: inclusive time of the method's own record_function ranges, when present
    print(f"\n{a.model} @{a.image_size}px, {a.method}, batch {a.batch_size}: {wall * 1000:.0f} ms/step "
          f"({a.batch_size / wall:.0f} img/s) over {a.steps} profiled steps, {torch.get_num_threads()} threads\n")
    # the main thread's operator time; more than the wall time means intra-op threads overlapped
    ops = sum(by_cat.values())
    print("| category | ms/step | share of operator time |\n|---|---:|---:|")
    for cat, s in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        print(f"| {cat} | {s * 1000:.1f} | {s / ops:.0%} |")
    print(f"| all operators | {ops * 1000:.1f} | |\n| step wall time | {wall * 1000:.1f} | |")
    print(f"| wall not in any operator (Python, Lightning, allocator) | {max(0.0, wall - ops) * 1000:.1f} | |\n")
    print(events.table(sort_by="self_cpu_time_total", row_limit=25))
    if a.trace:
        prof.export_chrome_trace(a.trace)


if __name__ == "__main__":
    main()
