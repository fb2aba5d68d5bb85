"""Checkpoints by wall time and steps (`--checkpoint-every`), and resumed runs."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch
import yaml

import headstart
from headstart.cli.main import main
from headstart.errors import HeadstartError
from headstart.train import checkpointing, trainer
from headstart.train.checkpointing import parse_every


@pytest.mark.parametrize("text, expected", [
    ("10m", (600.0, None)), ("30s", (30.0, None)), ("1.5h", (5400.0, None)), ("1000steps", (None, 1000)),
    ("off", (None, None)),
])
def test_parse_every__durations_and_steps(text, expected):
    assert parse_every(text) == expected


@pytest.mark.parametrize("text", ["10", "5min", "steps", "-1m", "1000 steps"])
def test_parse_every__error_names_the_forms(text):
    with pytest.raises(HeadstartError, match="10m, 30s, 1h or 1000steps"):
        parse_every(text)


# --- end to end: tiny pretraining runs of resnet-mini on real Fashion-MNIST images ----------------------

@pytest.fixture()
def saved_steps(monkeypatch):
    """The global step of every checkpoint written (through the atomic checkpoint IO)."""
    steps = []
    original = trainer.AtomicCheckpointIO.save_checkpoint

    def record(self, checkpoint, path, storage_options=None):
        steps.append(checkpoint["global_step"])
        return original(self, checkpoint, path, storage_options)

    monkeypatch.setattr(trainer.AtomicCheckpointIO, "save_checkpoint", record)
    return steps


def _pretrain(data, out, **kw):
    return headstart.pretrain(data=str(data), out=out, batch_size=32, progress=False, monitor=False, **kw)


def test_checkpoint__every_10_minutes_of_training_by_default(fmnist_folder, tmp_path, saved_steps, monkeypatch):
    ticks = iter(range(0, 10**6, 400))  # each look at the clock: 400 s later
    monkeypatch.setattr(checkpointing, "time", SimpleNamespace(monotonic=lambda: float(next(ticks))))
    _pretrain(fmnist_folder, tmp_path / "r", steps=7)
    assert saved_steps == [2, 4, 6, 7]  # 800 s after the last write at steps 2, 4, 6; and the end


@pytest.mark.parametrize("every, expected", [("3steps", [3, 6, 7]), ("off", [7])])
def test_checkpoint__every_n_steps_or_only_at_the_end(fmnist_folder, tmp_path, saved_steps, every, expected):
    _pretrain(fmnist_folder, tmp_path / "r", steps=7, checkpoint_every=every)
    assert saved_steps == expected


def test_checkpoint__at_epoch_ends_a_minute_apart(fmnist_folder, tmp_path, saved_steps, monkeypatch):
    _pretrain(fmnist_folder, tmp_path / "r", steps=23, checkpoint_every="off")  # 320 images: 10 steps an epoch
    assert saved_steps == [23]  # epochs of seconds: no write at each
    ticks = iter(range(0, 10**6, 100))  # each look at the clock: 100 s later
    monkeypatch.setattr(checkpointing, "time", SimpleNamespace(monotonic=lambda: float(next(ticks))))
    saved_steps.clear()
    _pretrain(fmnist_folder, tmp_path / "r2", steps=23, checkpoint_every="off")
    assert saved_steps == [10, 20, 23]


def test_resume__fresh_folder_starts_the_run(fmnist_folder, tmp_path, capsys):
    code = main(["pretrain", "--data", str(fmnist_folder), "--out", str(tmp_path / "r"), "--resume", "--steps", "2",
                 "--batch-size", "32", "--no-monitor", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and f"nothing to resume in {tmp_path / 'r'} (no checkpoint yet): starting the run" in out
    assert torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2


def test_resume__killed_before_its_first_checkpoint_reruns_the_same_run(pretrained_run, fmnist_folder, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    shutil.copy(pretrained_run / "config.yaml", out / "config.yaml")  # what a run killed in its first steps leaves
    assert main(["pretrain", "--data", str(fmnist_folder), "--out", str(out), "--resume"]) == 0  # its own settings
    exported = "exported/backbone.safetensors"
    assert (out / exported).read_bytes() == (pretrained_run / exported).read_bytes()


def test_resume__finished_run_says_so_and_exits_0(pretrained_run, tmp_path, capsys):
    out = tmp_path / "r"
    shutil.copytree(pretrained_run, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert main(["pretrain", "--data", "fashion-mnist", "--out", str(out), "--resume"]) == 2  # not the run's data
    assert "--resume with --data fashion-mnist but the run used" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(out), "--resume", "--config", str(out / "config.yaml")]) == 0
    printed = capsys.readouterr().out
    assert f"{out} is finished (step 6 of 6): nothing to do" in printed and "pretrained 6 steps" in printed
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing trained, nothing written


def test_resume__takes_the_saved_settings_and_extends_with_a_larger_steps(pretrained_run, fmnist_folder, tmp_path,
                                                                          capsys):
    out = tmp_path / "r"
    shutil.copytree(pretrained_run, out)
    code = main(["pretrain", "--data", str(fmnist_folder), "--out", str(out), "--resume", "--steps", "9",
                 "--no-progress"])
    assert code == 0 and f"resuming {out} at step 6 of 9" in capsys.readouterr().out
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 9
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["steps"], saved["batch_size"], saved["monitor"], saved["resume"]) == (9, 32, False, False)


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "64"], "--resume with --batch-size 64 but the run used 32"),
    (["--steps", "4"], "--resume with --steps 4 but the run used 6; it can only be extended: pass --steps above 6"),
    (["--method", "byol"], "--resume with --method byol but the run used simclr"),
])
def test_resume__error_a_disagreeing_option_is_named(pretrained_run, fmnist_folder, tmp_path, capsys, flags, message):
    out = tmp_path / "r"
    shutil.copytree(pretrained_run, out)
    code = main(["pretrain", "--data", str(fmnist_folder), "--out", str(out), "--resume", *flags])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_resume__finetune_finished_then_extended_with_its_saved_settings(fmnist_folder, tmp_path, capsys):
    out = str(tmp_path / "ft")
    assert main(["finetune", "--from", "scratch", "--model", "headstart/resnet-mini", "--data", str(fmnist_folder),
                 "--labels", "120", "--steps", "3", "--batch-size", "16", "--no-progress", "--out", out]) == 0
    again = ["finetune", "--from", "scratch", "--data", str(fmnist_folder), "--out", out, "--resume"]
    capsys.readouterr()
    assert main(again) == 0  # --model, --labels, --steps, --batch-size: from the run
    assert f"{out} is finished (step 3 of 3): nothing to do" in capsys.readouterr().out
    assert main([*again, "--steps", "5"]) == 0
    assert f"resuming {out} at step 3 of 5" in capsys.readouterr().out
    assert torch.load(tmp_path / "ft" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 5
    assert yaml.safe_load((tmp_path / "ft" / "config.yaml").read_text())["steps"] == 5
    assert main([*again, "--labels", "200"]) == 2
    assert "--resume with --labels 200 but the run used 120" in capsys.readouterr().err
