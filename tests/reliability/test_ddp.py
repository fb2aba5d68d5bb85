"""Distributed on CPU: a 2-process DDP run (gloo) works end to end with only rank 0 writing; when
one process is killed the other stops within a bounded time with one clear line, and the run
resumes."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

import pytest
import torch
from conftest import run_process, same_tensors, start_process, tensors

pytestmark = pytest.mark.timeout(900)  # generous: a hang, not a slow machine, should trip it
DDP = ["--accelerator", "cpu", "--devices", "2", "--distributed", "ddp", "--ddp-timeout", "120"]

DUMP_EACH_RANK = """
import os, sys, torch
import headstart.commands.pretrain as pretraining

fit = pretraining.fit


def fit_and_dump(cfg, plan, method, data, rundir, monitor):
    fit(cfg, plan, method, data, rundir, monitor)
    state = {k: v.detach().cpu() for k, v in method.backbone.module.state_dict().items()}
    torch.save(state, os.path.join(os.environ["RANK_DUMPS"], f"rank{method.global_rank}.pt"))


pretraining.fit = fit_and_dump
from headstart.cli.main import main

sys.exit(main(sys.argv[1:]))
"""


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_ddp__two_cpu_processes_end_to_end(small_folder, tmp_path, monkeypatch):
    launcher = tmp_path / "launch.py"
    launcher.write_text(DUMP_EACH_RANK)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    monkeypatch.setenv("RANK_DUMPS", str(dumps))
    out = tmp_path / "run"
    res = run_process("pretrain", "--data", small_folder, "--out", out, "--steps", "6", "--batch-size", "32",
                      "--no-progress", "--no-monitor", *DDP, launcher=launcher)
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert files(out) == ["checkpoints/last.ckpt", "config.yaml", "exported/backbone.safetensors", "metrics.csv",
                          "results.json"]  # one writer: no per-rank copies, no lock left
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    # 96 images, 2 ranks x 16 per step: 3 steps an epoch, so 6 steps are 2 whole epochs
    assert ckpt["global_step"] == 6 and ckpt["epoch"] == 2
    loader = ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert (loader["epoch"], loader["batches"]) == (1, 3)
    steps = [int(r["step"]) for r in csv.DictReader((out / "metrics.csv").open()) if r.get("train/loss_step")]
    assert steps == list(range(6))  # one row per step: rank 0 alone logs
    ranks = [torch.load(dumps / f"rank{r}.pt") for r in (0, 1)]
    assert same_tensors(ranks[0], tensors(out / "exported" / "backbone.safetensors"))  # rank 0 exported
    # weights are equal on both ranks; BatchNorm running statistics are each rank's own (DDP copies
    # rank 0's into the others at every forward, so they differ only by the last step's update)
    local = {k for k in ranks[0] if k.endswith(("running_mean", "running_var"))}
    assert local and all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0] if k not in local)
    assert not all(torch.equal(ranks[0][k], ranks[1][k]) for k in local)  # each rank saw its own shard


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_ddp__a_killed_rank_stops_the_run_cleanly_and_it_resumes(small_folder, tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--data", small_folder, "--out", out, "--batch-size", "32", "--no-progress", "--no-monitor",
            "--checkpoint-every", "2steps", *DDP]
    rank0 = start_process(*args, "--steps", "40")
    end = time.monotonic() + 600
    while not (out / "checkpoints" / "last.ckpt").is_file():
        assert rank0.poll() is None and time.monotonic() < end, rank0.communicate()[1][-3000:]
        time.sleep(0.05)
    (rank1,) = children(rank0.pid)  # Lightning starts rank 1 as a child process
    killed = time.monotonic()
    signal_pid(rank1)
    _, err = rank0.communicate(timeout=120)
    waited = time.monotonic() - killed
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert rank0.returncode == 2 and "Traceback" not in err and len(lines) == 1, err[-3000:]
    assert "another training process died or stopped answering" in lines[0] and "--resume" in lines[0]
    assert waited < 60  # the peer's closed socket is seen at once; --ddp-timeout bounds a hung one
    kept = int(torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"])
    assert kept < 40
    again = run_process(*args, "--steps", "40", "--resume")  # the same command again, as after any kill
    assert again.code == 0 and "Traceback" not in again.err, again.err
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 40
    assert (out / "exported" / "backbone.safetensors").is_file() and not (out / "run.lock").exists()


def signal_pid(pid: int) -> None:
    import os

    os.kill(pid, signal.SIGKILL)


def test_ddp__text_pretraining_on_two_cpu_processes(tmp_path):
    """The text path goes through the same Lightning strategy: bert-mini MLM on 2 gloo ranks, rank 0 writes."""
    import json

    from headstart.data.text.fortunes import open_fortunes

    corpus = tmp_path / "corpus.jsonl"
    texts = open_fortunes("fortunes", split="train").texts[::200][:300]
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = tmp_path / "run"
    res = run_process("pretrain", "--data", str(corpus), "--model", "headstart/bert-mini", "--method", "mlm",
                      "--out", out, "--steps", "4", "--batch-size", "8", "--seq-len", "32", "--method-args",
                      "vocab_size=600", "--no-progress", "--no-monitor", *DDP)
    assert res.code == 0 and "Traceback" not in res.err, res.err
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 4
    assert (out / "exported" / "hf" / "config.json").is_file() and (out / "tokenizer" / "tokenizer.json").is_file()
    steps = [int(r["step"]) for r in csv.DictReader((out / "metrics.csv").open()) if r.get("train/loss_step")]
    assert steps == list(range(4))  # rank 0 alone logs
