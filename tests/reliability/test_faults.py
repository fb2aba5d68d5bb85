"""Faults during a run: a NaN/Inf loss, a full disk, a folder that cannot be written. Each is one
line and exit code 2, and the last good checkpoint is still there and loadable."""

from __future__ import annotations

import csv
import errno
import os
import re
import subprocess
import tempfile

import numpy as np
import pytest
import torch
from conftest import SMALL, tensors, tmpfs

import headstart.run as run_module

pytestmark = pytest.mark.timeout(300)
REAL_FDOPEN = os.fdopen


def last_step(out) -> int:
    return int(torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["global_step"])


def assert_clean_stop(res, out, *phrases: str) -> None:
    assert res.code == 2, res.err
    assert "Traceback" not in res.err and len(res.errors) == 1, res.err
    assert all(p in res.errors[0] for p in phrases), res.errors[0]
    assert not (out / "run.lock").exists()
    assert not [p for p in out.rglob(".*.tmp")]  # no half-written file left behind


# --- numerical faults -------------------------------------------------------------------------

def test_nan_loss__stops_naming_the_step_and_keeps_the_last_checkpoint(small_folder, tmp_path, cli):
    out = tmp_path / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "6", "--lr", "1e30",
              "--checkpoint-every", "1steps", *SMALL)
    assert_clean_stop(res, out, "training stopped: the loss became", "--skip-nonfinite", "lower --lr")
    bad = int(re.search(r"became -?(?:nan|inf) at step (\d+)", res.errors[0]).group(1))
    assert last_step(out) == bad  # the checkpoint of the last finished step, just before the bad one
    logged = [int(r["step"]) for r in csv.DictReader((out / "metrics.csv").open()) if r.get("train/loss_step")]
    assert logged == list(range(bad))  # every finished step's row kept


@pytest.fixture
def nan_on_third_loss(monkeypatch):
    """SimCLR's loss is NaN once, at its third call: a transient fault."""
    from headstart.methods.simclr import SimCLR

    real, calls = SimCLR.loss, []

    def loss(self, views):
        value, extra = real(self, views)
        calls.append(1)
        return (value * float("nan"), extra) if len(calls) == 3 else (value, extra)

    monkeypatch.setattr(SimCLR, "loss", loss)
    return calls


def test_skip_nonfinite__a_transient_nan_is_skipped_and_the_run_finishes(small_folder, tmp_path, cli,
                                                                         nan_on_third_loss):
    out = tmp_path / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "5", "--skip-nonfinite", "1", *SMALL)
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert res.warnings == ["headstart pretrain: warning: loss is nan at step 2; step skipped (1 of 1 allowed)"]
    assert last_step(out) == 5 and len(nan_on_third_loss) == 5  # the skipped step counts, without an update
    rows = [r for r in csv.DictReader((out / "metrics.csv").open()) if r.get("train/loss_step")]
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4]  # (Lightning repeats step 1's loss at step 2)
    assert np.isfinite([float(r["train/loss_step"]) for r in rows]).all()
    assert all(torch.isfinite(t).all() for t in tensors(out / "exported" / "backbone.safetensors").values()
               if t.is_floating_point())


def test_skip_nonfinite__without_it_the_same_nan_stops_the_run(small_folder, tmp_path, cli, nan_on_third_loss):
    out = tmp_path / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "5", "--checkpoint-every", "1steps",
              *SMALL)
    assert_clean_stop(res, out, "the loss became nan at step 2")
    assert last_step(out) == 2


# --- full disk, unwritable output ---------------------------------------------------------------

def fail_writes(monkeypatch, name: str, after: int, err: int = errno.ENOSPC) -> None:
    """Simulated fault where no small file system can be mounted: writes to the temporary file of
    `name` fail with `err` after 1 MiB, from the (`after`+1)-th time it is written on."""
    real, seen = os.fdopen, []

    class Failing:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 2**20:
                raise OSError(err, os.strerror(err))
            return self.f.write(data)

        def __getattr__(self, key):
            return getattr(self.f, key)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fdopen(fd, *args, **kwargs):
        f = real(fd, *args, **kwargs)
        if not os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(f".{name}."):
            return f
        seen.append(fd)
        return f if len(seen) <= after else Failing(f)

    monkeypatch.setattr(os, "fdopen", fdopen)


@pytest.fixture
def small_disk(tmp_path, monkeypatch, request):
    """A 30 MiB file system (one resnet-mini checkpoint is 27.7 MiB, its export 4.7 MiB), or a simulated one."""
    monkeypatch.setattr(run_module, "MIN_FREE_BYTES", 2**20)  # the start-of-run check wants 200 MiB
    with tmpfs(tmp_path / "disk", request.param if hasattr(request, "param") else 30) as mounted:
        yield tmp_path / "disk", mounted


def test_disk_full__during_a_checkpoint_write(small_folder, small_disk, cli, monkeypatch):
    disk, mounted = small_disk
    if not mounted:
        fail_writes(monkeypatch, "last.ckpt", after=1)
    out = disk / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "4", "--checkpoint-every", "1steps",
              *SMALL)
    assert_clean_stop(res, out, "disk full while writing", "last.ckpt", "free space")
    assert last_step(out) == 1  # the first checkpoint fitted, the second did not: the first is intact


@pytest.mark.parametrize("small_disk", [30], indirect=True)
def test_disk_full__during_export_then_resume_exports(small_folder, small_disk, cli, monkeypatch):
    disk, mounted = small_disk
    if not mounted:
        fail_writes(monkeypatch, "backbone.safetensors", after=0)
    out = disk / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "2", *SMALL)
    assert_clean_stop(res, out, "disk full while writing", "backbone.safetensors")
    assert last_step(out) == 2 and not (out / "exported" / "backbone.safetensors").exists()
    if mounted:  # space freed
        subprocess.run(["mount", "-o", "remount,size=40m", str(disk)], check=True)
    else:
        monkeypatch.setattr(os, "fdopen", REAL_FDOPEN)
    again = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "2", "--resume", *SMALL)
    assert again.code == 0, again.err
    assert last_step(out) == 2 and len(tensors(out / "exported" / "backbone.safetensors")) > 0


def test_permission_denied__during_a_checkpoint_write(small_folder, tmp_path, cli, monkeypatch):
    """EACCES when the finished checkpoint is moved into place (simulated: root may write anywhere)."""
    real, calls = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "last.ckpt":
            calls.append(dst)
            if len(calls) == 3:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "5", "--checkpoint-every", "1steps",
              *SMALL)
    assert_clean_stop(res, out, "cannot write", "last.ckpt", "Permission denied")
    assert last_step(out) == 2


def test_read_only_output__export_is_one_line(pretrained_run, tmp_path, cli, monkeypatch):
    with tmpfs(tmp_path / "ro", 4) as mounted:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / "ro")], check=True)
        else:
            def refuse(*args, **kwargs):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

            monkeypatch.setattr(tempfile, "mkstemp", refuse)
        # onnx writes through its own code: only a real read-only file system reaches it
        for fmt in ("safetensors", "onnx") if mounted else ("safetensors",):
            res = cli("export", "--run", pretrained_run, "--format", fmt, "--out", tmp_path / "ro" / f"w.{fmt}")
            assert res.code == 2 and "Traceback" not in res.err and len(res.errors) == 1, res.err
            assert "Read-only file system" in res.errors[0] and str(tmp_path / "ro") in res.errors[0]
