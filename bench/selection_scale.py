"""Time and peak memory of every selection strategy on synthetic clustered embeddings.

    python bench/selection_scale.py                      # N = 100k and 1M, D = 128, n = 1000
    python bench/selection_scale.py --rows 100000 --dim 384 --strategies diverse typical
    python bench/selection_scale.py --dedup              # also near_duplicates (100k rows only)
    python bench/selection_scale.py --threads 1 --unit   # 1 torch thread; L2-normalised input

Embeddings are a Gaussian mixture (100 components); probs for `uncertain`/`combine` are a
softmax over similarities to 10 random class directions. Each strategy runs in a fresh
process, so its peak RSS (getrusage ru_maxrss) is its own; `extra` is the peak minus the RSS
after the data was made (embeddings + probs), i.e. what the strategy itself needed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

from headstart.curate.dedup import near_duplicates
from headstart.curate.registry import STRATEGIES


def mixture(rows: int, dim: int, seed: int = 0, components: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 embeddings `(rows, dim)` and softmax probs `(rows, 10)`, made chunk by chunk."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(components, dim, generator=g)
    classes = torch.nn.functional.normalize(torch.randn(10, dim, generator=g), dim=1)
    x, probs = torch.empty(rows, dim), torch.empty(rows, 10)
    for start in range(0, rows, 1 << 16):
        part = slice(start, min(rows, start + (1 << 16)))
        which = torch.randint(components, (part.stop - part.start,), generator=g)
        x[part] = centres[which] + 0.7 * torch.randn(part.stop - part.start, dim, generator=g)
        probs[part] = (torch.nn.functional.normalize(x[part], dim=1) @ classes.T * 8).softmax(dim=1)
    return x, probs


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(name: str, rows: int, dim: int, n: int, threads: int | None, unit: bool) -> dict:
    if threads:
        torch.set_num_threads(threads)
    x, probs = mixture(rows, dim)
    if unit:  # already L2-normalised rows are used in place: no second copy
        for part in range(0, rows, 1 << 16):
            x[part : part + (1 << 16)] = torch.nn.functional.normalize(x[part : part + (1 << 16)], dim=1)
    base, cpu = peak_mib(), cpu_seconds()
    start = time.perf_counter()
    if name == "dedup":
        found = len(near_duplicates(x, threshold=0.95))
    else:
        found = len(STRATEGIES.get(name)(x, n, seed=0, probs=probs))
    seconds = time.perf_counter() - start
    return {
        "strategy": name,
        "rows": rows,
        "dim": dim,
        "n": n,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds() - cpu, 1),
        "peak_mib": round(peak_mib()),
        "extra_mib": round(peak_mib() - base),
        "found": found,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--strategies", nargs="+", default=STRATEGIES.names())
    p.add_argument("--dedup", action="store_true", help="also time near_duplicates at <= 100k rows")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    p.add_argument("--unit", action="store_true", help="pass L2-normalised embeddings")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rows[0], args.dim, args.n, args.threads, args.unit)))
        return
    threads = args.threads or torch.get_num_threads()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch threads {threads}")
    head = ("strategy", "rows", "dim", "n", "seconds", "cpu s", "peak MiB", "extra MiB")
    print(("{:<10}" + " {:>9}" * 7).format(*head))
    for rows in args.rows:
        names = args.strategies + (["dedup"] if args.dedup and rows <= 100_000 else [])
        for name in names:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                name,
                "--rows",
                str(rows),
                "--dim",
                str(args.dim),
                "--n",
                str(args.n),
                *(["--threads", str(args.threads)] if args.threads else []),
                *(["--unit"] if args.unit else []),
            ]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            cells = (
                name,
                rows,
                args.dim,
                args.n,
                r["seconds"],
                r["cpu_seconds"],
                r["peak_mib"],
                r["extra_mib"],
            )
            print(("{:<10}" + " {:>9}" * 7).format(*cells), flush=True)


if __name__ == "__main__":
    main()
