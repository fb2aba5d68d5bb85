"""Two runs pointed at the same --out: the second refuses, naming the owner; once the owner is
dead its lock is stale and a resumed run takes it over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
import torch
from conftest import SMALL, run_process, start_process

STEPS = 60  # the owner is paused at its first checkpoints; the resumed run finishes them
pytestmark = pytest.mark.timeout(900)  # generous: a hang, not a slow machine, should trip it


def test_two_processes__second_refused_then_stale_lock_taken_over(small_folder, tmp_path, cli):
    out = tmp_path / "run"
    owner = start_process("pretrain", "--data", small_folder, "--out", out, "--steps", str(STEPS),
                          "--checkpoint-every", "1steps", *SMALL)
    try:
        end = time.monotonic() + 600
        while not (out / "checkpoints" / "last.ckpt").is_file():
            assert owner.poll() is None and time.monotonic() < end, owner.communicate()[1][-2000:]
            time.sleep(0.05)
        assert (out / "run.lock").read_text().split() == [str(owner.pid), socket.gethostname()]
        owner.send_signal(signal.SIGSTOP)  # paused, still alive and holding the lock: no CPU spent meanwhile
        busy = f"is in use by another headstart process (PID HOST: {owner.pid} {socket.gethostname()})"

        second = run_process("pretrain", "--data", small_folder, "--out", out, "--steps", "2", *SMALL)
        assert second.code == 2 and len(second.errors) == 1 and busy in second.errors[0], second.err
        for flags in (["--resume"], ["--overwrite"]):  # no flag gets past a live owner
            res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "2", *SMALL, *flags)
            assert res.code == 2 and busy in res.errors[0], res.err
        assert owner.poll() is None and (out / "config.yaml").is_file()  # the owner lives on, untouched
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.communicate(timeout=60)

    assert (out / "run.lock").read_text().split()[0] == str(owner.pid)  # left behind by the killed owner
    kept = int(torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"])
    assert kept < STEPS
    res = cli("pretrain", "--data", small_folder, "--out", out, "--resume")  # the run's own settings
    assert res.code == 0, res.err
    assert int(torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]) == STEPS
    assert not (out / "run.lock").exists() and (out / "exported" / "backbone.safetensors").is_file()


def test_lock__a_lock_from_a_dead_process_or_garbage_is_stale(small_folder, tmp_path, cli):
    out = tmp_path / "run"
    out.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = gone.pid
    for content in (f"{dead} {socket.gethostname()}", "not a lock", ""):
        (out / "run.lock").write_text(content)
        old = time.time() - 60
        os.utime(out / "run.lock", (old, old))  # a garbage lock is stale once it is not being written
        res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "1", *SMALL, "--overwrite")
        assert res.code == 0, res.err
        assert not (out / "run.lock").exists()
