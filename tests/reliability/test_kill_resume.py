"""Killed runs lose nothing: SIGKILL at a random moment, or in the middle of writing a checkpoint,
then `--resume`, ends with the same weights, bit for bit, as a run never interrupted (CPU, same
seed). `bench/kill_resume.py` repeats this over many random kill points."""

from __future__ import annotations

import random
import signal
import time

import pytest
import torch
from conftest import SMALL, run_process, same_tensors, start_process, tensors

import headstart

pytestmark = pytest.mark.timeout(900)  # generous: a hang, not a slow machine, should trip it
STEPS = 12  # 2 epochs of 6 steps
ARGS = ["--steps", str(STEPS), "--seed", "5", "--checkpoint-every", "1steps", *SMALL]

SLOW_WRITES = """
import sys, time
import headstart.train.trainer as trainer

write = trainer._KeepsWriteErrors.write


def slow(self, data):  # about 2 s a checkpoint: time to be killed in the middle of one
    time.sleep(0.002)
    return write(self, data)


trainer._KeepsWriteErrors.write = slow
from headstart.cli.main import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def reference(small_folder, tmp_path_factory):
    """The uninterrupted run, in its own process like the killed ones."""
    out = tmp_path_factory.mktemp("reference") / "run"
    res = run_process("pretrain", "--data", small_folder, "--out", out, *ARGS)
    assert res.code == 0, res.err
    return final_state(out)


def final_state(run) -> dict[str, torch.Tensor]:
    """Exported backbone + the whole module (heads) + the optimizer state, from a finished run."""
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == STEPS
    state = {f"exported.{k}": v for k, v in tensors(run / "exported" / "backbone.safetensors").items()}
    state.update({f"module.{k}": v for k, v in ckpt["state_dict"].items()})
    for i, s in ckpt["optimizer_states"][0]["state"].items():
        state.update({f"adam.{i}.{k}": torch.as_tensor(v) for k, v in s.items()})
    return state


def wait_for(condition, proc, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended before the kill point: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < end, "kill point not reached"
        time.sleep(0.002)


def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def resume_and_compare(folder, out, reference) -> None:
    res = run_process("pretrain", "--data", folder, "--out", out, "--resume", *ARGS)
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert not list((out / "checkpoints").glob(".*.tmp"))  # the killed run's partial file is cleaned up
    resumed = final_state(out)
    assert same_tensors(resumed, reference), [k for k in reference if not torch.equal(reference[k], resumed[k])][:5]


def test_sigkill__at_a_random_moment_then_resume_is_bit_identical(small_folder, tmp_path, reference):
    out = tmp_path / "run"
    proc = start_process("pretrain", "--data", small_folder, "--out", out, *ARGS)
    wait_for(lambda: (out / "checkpoints" / "last.ckpt").is_file(), proc)
    time.sleep(random.uniform(0.0, 1.0))  # somewhere in the next steps or checkpoint writes
    kill(proc)
    step = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert 1 <= step < STEPS
    resume_and_compare(small_folder, out, reference)


def test_sigkill__during_a_checkpoint_write_keeps_last_ckpt_whole(small_folder, tmp_path, reference):
    launcher = tmp_path / "slow_writes.py"
    launcher.write_text(SLOW_WRITES)
    out = tmp_path / "run"
    proc = start_process("pretrain", "--data", small_folder, "--out", out, *ARGS, launcher=launcher)
    last = out / "checkpoints" / "last.ckpt"
    partial = lambda: [p for p in (out / "checkpoints").glob(".last.ckpt.*.tmp") if p.stat().st_size > 0]
    wait_for(lambda: last.is_file() and (out / "checkpoints").is_dir() and partial(), proc)
    time.sleep(0.3)  # well inside the ~2 s write
    assert partial(), "the write ended before the kill"
    kill(proc)
    assert partial()  # killed mid-write: the temporary file is half-written ...
    ckpt = torch.load(last, map_location="cpu", weights_only=False)  # ... and last.ckpt is whole
    assert 1 <= ckpt["global_step"] < STEPS and ckpt["state_dict"]
    resume_and_compare(small_folder, out, reference)


@pytest.mark.slow  # the bench and tests/train/test_loader.py cover epoch ends in the default run
def test_crash_at_an_epoch_end_then_resume_is_bit_identical(small_folder, tmp_path, reference, monkeypatch):
    """The checkpoint written after an epoch's last batch: the resumed loader starts the next epoch."""
    from headstart.train.callbacks import Throughput

    def crash(self, trainer, module):
        raise RuntimeError("simulated crash right after the epoch-end checkpoint")

    monkeypatch.setattr(Throughput, "on_train_epoch_end", crash, raising=False)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        headstart.pretrain(data=str(small_folder), out=out, steps=STEPS, seed=5, checkpoint_every="1steps",
                           batch_size=16, progress=False, monitor=False)
    saved = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 6  # the last batch of epoch 0
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]["batches"] == 6
    monkeypatch.undo()
    resume_and_compare(small_folder, out, reference)


def test_ctrl_c__stops_in_one_line_saying_what_is_kept(small_folder, tmp_path):
    out = tmp_path / "run"
    proc = start_process("pretrain", "--data", small_folder, "--out", out, *ARGS)
    wait_for(lambda: (out / "checkpoints" / "last.ckpt").is_file(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    (line,) = [x for x in err.splitlines() if x.startswith("headstart pretrain: interrupted")]
    step = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert f"last.ckpt (step {step}) is kept — run the same command with --resume to continue" in line
    assert not (out / "run.lock").exists()
