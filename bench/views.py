"""Time the SimCLR views: headstart's batched recipe against torchvision.transforms.v2 per image.

    python -m bench.views [--batch 256] [--repeats 7] [--threads N] [--keep-freed-memory]

Both make two SimCLR views (crop 0.08-1, flip, jitter (0.4, 0.4, 0.4, 0.1) p=0.8, grayscale 0.2,
blur p=0.5 above 32 px) of a uint8 batch, 3x64x64 and 1x28x28. Prints the median wall time and
process CPU time (and the least CPU time) of `--repeats` runs (on a shared machine CPU time is the
steadier figure),
images/s (views of one image count as one image), and the speed-up over torchvision.

`--keep-freed-memory` asks glibc to keep freed memory for reuse (`mallopt`) instead of returning
large blocks to the kernel: on a VM each re-touched 4 KiB page then costs a page fault, about half
of the time of a batch of views when it is off. On a busy machine run with OMP_WAIT_POLICY=PASSIVE
(or --threads 1): spinning OpenMP threads otherwise wait out whole scheduler slices at every barrier.
Run as a module: `bench/select.py` shadows the standard library's `select` for `python bench/x.py`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time
from collections.abc import Callable

import torch
from torchvision.transforms import v2

from headstart.data.views import ViewRecipe, recipe
from headstart.data.views.ops import auto_dtype


def torchvision_simclr(size: int, channels: int) -> v2.Compose:
    """The usual per-image pipeline, same parameters as `recipe("simclr", size)`."""
    spec = recipe("simclr", size).views[0]
    steps = [v2.RandomResizedCrop(size, scale=spec.scale, antialias=True), v2.RandomHorizontalFlip(),
             v2.RandomApply([v2.ColorJitter(*spec.jitter)], p=spec.jitter_p)]
    steps += [v2.RandomGrayscale(spec.grayscale_p)] if channels == 3 else []
    if spec.blur_p:
        k = max(3, int(0.1 * size) // 2 * 2 + 1)
        steps.append(v2.RandomApply([v2.GaussianBlur(k, spec.blur_sigma)], p=spec.blur_p))
    return v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True)])


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median wall, median CPU and least CPU seconds of `repeats` calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu), min(cpu)


def bench(channels: int, size: int, batch: int, repeats: int) -> None:
    x = torch.randint(0, 256, (batch, channels, size, size), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(0)
    ours = recipe("simclr", size)
    tv = torchvision_simclr(size, channels)
    runs = {
        f"headstart (auto: {str(auto_dtype(x.device))[6:]})": lambda: ours(x, gen),
        "headstart (float32)": lambda: ViewRecipe("simclr", ours.views, dtype=torch.float32)(x, gen),
        "torchvision v2 per image": lambda: [torch.stack([tv(img) for img in x]) for _ in range(2)],
    }
    print(f"\nSimCLR, 2 views of {batch} x {channels}x{size}x{size} uint8, {torch.get_num_threads()} threads"
          f" ({os.getloadavg()[0]:.1f} load)")
    times = {name: timed(fn, repeats if "torchvision" not in name else max(2, repeats // 2))
             for name, fn in runs.items()}
    base_wall, base_cpu, _ = times["torchvision v2 per image"]
    for name, (wall, cpu, least) in times.items():
        print(f"  {name:26s} wall {wall * 1e3:7.1f} ms  cpu {cpu * 1e3:7.1f} ms (min {least * 1e3:6.1f})"
              f"  {batch / wall:6.0f} img/s  x{base_wall / wall:5.1f} wall  x{base_cpu / cpu:5.1f} cpu vs torchvision")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--keep-freed-memory", action="store_true", help="glibc mallopt: no trim, no mmap")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.keep_freed_memory:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: do not give the heap top back
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: serve large blocks from the heap
    for channels, size in ((3, 64), (1, 28)):
        bench(channels, size, args.batch, args.repeats)


if __name__ == "__main__":
    main()
