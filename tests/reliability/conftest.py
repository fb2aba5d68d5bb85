"""Fixtures for the reliability tests: a small real image folder, the CLI run in-process or as
real processes, and a tiny file system to fill up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data"))
from data_files import write_class_folders

from headstart.cli.main import main

# a short run that crosses epochs: 96 images / batch 16 = 6 steps an epoch
SMALL = ["--batch-size", "16", "--no-progress", "--no-monitor"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err_lines if ": error: " in line]

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.err_lines if ": warning: " in line]


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory, fmnist_test) -> Path:
    """96 real Fashion-MNIST images as PNGs in 3 class folders."""
    root = tmp_path_factory.mktemp("small") / "images"
    write_class_folders(root, fmnist_test, per_class=32)
    return root


@pytest.fixture
def cli(capfd):
    """`headstart ARGS` run in this process: (exit code, stdout, stderr), data-loader workers' output included."""

    def run(*args: str) -> Result:
        capfd.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capfd.readouterr()
        return Result(code, out, err)

    return run


def headstart_cmd(*args: str, launcher: Path | None = None) -> list[str]:
    """The command line of a real `headstart` process (optionally through a test launcher script)."""
    entry = [str(launcher)] if launcher else ["-m", "headstart.cli.main"]
    return [sys.executable, *entry, *[str(a) for a in args]]


def process_env() -> dict[str, str]:
    """Child processes use this process's thread count, so their float results match each other."""
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "PYTHONUNBUFFERED": "1"}


def run_process(*args: str, timeout: float = 600, launcher: Path | None = None) -> Result:
    done = subprocess.run(headstart_cmd(*args, launcher=launcher), capture_output=True, text=True,
                          timeout=timeout, env=process_env(), check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def start_process(*args: str, launcher: Path | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(headstart_cmd(*args, launcher=launcher), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=process_env(), **kwargs)


# A shell's `pytest &` starts these tests ignoring SIGINT, and an ignored signal stays ignored in every
# child: Ctrl-C would not reach the real `headstart` processes the tests interrupt. Handle it again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes (to prove nothing was touched)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def tmpfs(path: Path, size_mib: int):
    """A real `size_mib` MiB file system at `path` when this process may mount one (root in most
    sandboxes); yields False, mounting nothing, where it may not (or HEADSTART_TEST_NO_MOUNT=1,
    to run the simulated faults instead)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0 and os.environ.get("HEADSTART_TEST_NO_MOUNT") != "1":
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(path)],
                              capture_output=True, check=False)
        mounted = done.returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
