"""How fast `index_folder` lists a big image folder.

Creates N empty `.jpg` files (default 1,000,000) spread over class sub-folders in a temporary
folder, times `headstart.data.folder.index_folder` over it, and prints files per second.
The files were just written, so the listing runs from a warm directory cache (as does a second
epoch or run); a cold first listing on a network disk is slower.

    python bench/index_folder.py --n 1000000 --classes 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from headstart.data.folder import index_folder


def make_files(root: str, n: int, classes: int) -> None:
    """`n` empty .jpg files: in `classes` sub-folders, or flat when `classes` is 0."""
    folders = [os.path.join(root, f"class_{c:03d}") for c in range(classes)] or [root]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    for i in range(n):
        with open(os.path.join(folders[i % len(folders)], f"img_{i:08d}.jpg"), "wb"):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of files")
    parser.add_argument("--classes", type=int, default=10, help="class sub-folders (0: all in one folder)")
    parser.add_argument("--repeat", type=int, default=3, help="timed listings; the best is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="headstart-bench-") as root:
        start = time.perf_counter()
        make_files(root, args.n, args.classes)
        print(f"created {args.n:,} files in {time.perf_counter() - start:.1f} s")
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            index = index_folder(root)
            times.append(time.perf_counter() - start)
        assert len(index.paths) == args.n, (len(index.paths), args.n)
        best = min(times)
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"indexed {len(index.paths):,} files ({len(index.classes)} classes) in {best:.2f} s "
              f"(best of {args.repeat}: {runs}) = {args.n / best:,.0f} files/s")


if __name__ == "__main__":
    main()
