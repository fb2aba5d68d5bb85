"""A folder of 1,000,000 real image files, and embed / select / dedup on it end to end.

The files are Fashion-MNIST's 70,000 images (train + test), each written once as it is and then
as shifted, flipped and brightness-jittered copies (seeded) until `--n` files exist: 28 px
grayscale PNGs in `<class>/part_NNN/` sub-folders (the class folders are the labels). So the
folder holds many near-duplicates by construction, as photo dumps do.

    python bench/million_files.py make --root /tmp/million --n 1000000
    python bench/million_files.py index --root /tmp/million          # listing, cached listing, bytes per file
    python bench/million_files.py run --root /tmp/million --run runs/fm --out /tmp/million-out

`run` times `headstart embed`, `select --strategy typical --n 1000` and `dedup` in separate
processes (each its own peak RSS), with their progress output sent to `<out>/*.log`. `embed` links
its files into the run's cache, so `select` and `dedup` after it read the embeddings from there.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

PER_PART = 1000


def _write_part(job: tuple[str, int, int, int]) -> int:
    """Files `start .. stop` of the sequence: copy k = i // 70,000 of image i % 70,000."""
    from PIL import Image

    from headstart.data.idx import open_idx

    root, start, stop, seed = job
    train, test = open_idx("fashion-mnist", "train"), open_idx("fashion-mnist", "test")
    images = np.concatenate([train.images[:, 0].numpy(), test.images[:, 0].numpy()])
    labels = np.concatenate([train.labels, test.labels])
    names = train.classes
    for i in range(start, stop):
        k, j = divmod(i, len(images))
        img = images[j]
        if k:
            rng = np.random.default_rng((seed, i))
            img = np.roll(img, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
            if rng.random() < 0.5:
                img = img[:, ::-1]
            img = np.clip(img.astype(np.float32) * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
        folder = Path(root) / names[labels[j]].replace("/", "-") / f"part_{i // PER_PART // 10:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img)).save(folder / f"img_{i:07d}.png", compress_level=1)
    return stop - start


def make(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    step = 20_000
    jobs = [(args.root, s, min(args.n, s + step), args.seed) for s in range(0, args.n, step)]
    done = 0
    with ProcessPoolExecutor(args.workers) as pool:
        for count in pool.map(_write_part, jobs):
            done += count
            print(f"{done:,} files ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"wrote {args.n:,} files under {args.root} in {time.perf_counter() - start:.0f} s")


def index(args: argparse.Namespace) -> None:
    from headstart.data import folder_cache
    from headstart.data.folder import index_folder

    cache = Path(folder_cache._cache_file(args.root))
    cache.unlink(missing_ok=True)
    for label, cached in (("listing, no cache", False), ("listing + writing the cache", True),
                          ("from the cache", True)):
        start = time.perf_counter()
        idx = index_folder(args.root, cache=cached)
        print(f"{label}: {len(idx.paths):,} files in {time.perf_counter() - start:.2f} s", flush=True)
    print(f"cache file {cache.stat().st_size / len(idx.paths):.0f} bytes/file")
    for label, cached in (("listed", False), ("from the cache", True)):
        del idx
        tracemalloc.start()
        idx = index_folder(args.root, cache=cached)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"index in memory ({label}): {held / len(idx.paths):.0f} bytes/file held, "
              f"{peak / len(idx.paths):.0f} bytes/file at the peak while making it", flush=True)


def _timed(cmd: list[str], log: Path) -> dict:
    start = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run([sys.executable, "-c", _WRAP, *cmd], stdout=f, stderr=subprocess.STDOUT, check=False)
    took = time.perf_counter() - start
    tail = log.read_text().strip().splitlines()
    peak = next((int(line.split()[-1]) for line in reversed(tail) if line.startswith("PEAK_RSS_KB")), 0)
    return {"cmd": " ".join(cmd), "rc": proc.returncode, "seconds": round(took, 1), "peak_rss_gb": round(peak / 2**20, 2)}


_WRAP = """
import resource, sys
from headstart.cli.main import main
try:
    main(sys.argv[1:])
finally:
    print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commands = {
        "embed": ["embed", "--run", args.run, "--data", args.root, "--out", str(out / "emb")],
        "select": ["select", "--run", args.run, "--data", args.root, "--strategy", "typical", "--n", "1000",
                   "--out", str(out / "selection.csv")],
        "dedup": ["dedup", "--run", args.run, "--data", args.root, "--out", str(out / "duplicates.csv")],
    }
    rows = [_timed(commands[name], out / f"{name}.log") for name in args.only.split(",")]
    for row in rows:
        print(json.dumps(row), flush=True)
    (out / "times.json").write_text(json.dumps(rows, indent=1))
    print(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("make")
    p.add_argument("--root", required=True)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("index")
    p.add_argument("--root", required=True)
    p = sub.add_parser("run")
    p.add_argument("--root", required=True)
    p.add_argument("--run", required=True, help="a pretraining run folder")
    p.add_argument("--out", required=True)
    p.add_argument("--only", default="embed,select,dedup", help="commands to time, in order")
    args = parser.parse_args()
    {"make": make, "index": index, "run": run}[args.what](args)


if __name__ == "__main__":
    main()
