"""The run folder: one `Run` object reads and writes it for every command.

    runs/NAME/config.yaml, checkpoints/last.ckpt, exported/backbone.safetensors,
    exported/model.safetensors, results.json, metrics.csv

`open_run` claims a folder to write (lock, writable, never clobbered); `Run.read` opens a
finished one to read (its config is read once). `RunOptions` are the
options of every command that writes a run folder. This module knows nothing above
`config`/`io`/`errors`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from headstart.config import Config
from headstart.errors import HeadstartError
from headstart.io import disk_error, write_json, write_text

MIN_FREE_BYTES = 200 * 2**20
LOCK_WRITE_GRACE_S = 10


class RunOptions(Config):
    """Where results go and how an existing folder is treated."""

    out: Path | None = Field(None, description="run folder; unset: runs/<command>-<time>")
    resume: bool = Field(False, description="continue from the run folder's last checkpoint")
    overwrite: bool = Field(False, description="replace an existing non-empty run folder")
    seed: int = Field(0, description="random seed (data order, augmentations, initialisation)")
    progress: bool = Field(True, description="show a progress bar")


@dataclass
class Run:
    path: Path
    created: bool = False  # this process made the folder: a run that fails before writing anything removes it

    @classmethod
    def read(cls, path: str | Path) -> Run:
        """A finished run folder, to read (no lock): its config.yaml must name a model."""
        run = cls(Path(path))
        _ = run.model_name  # fail now, with the folder's name, not later on a missing key
        return run

    # --- paths --------------------------------------------------------------------------
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def exported(self) -> Path:
        return self.path / "exported"

    @property
    def backbone_file(self) -> Path:
        return self.exported / "backbone.safetensors"

    @property
    def model_file(self) -> Path:
        """The fine-tuned classifier (backbone + head), written by `finetune`."""
        return self.exported / "model.safetensors"

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def results_file(self) -> Path:
        return self.path / "results.json"

    # --- the saved config ----------------------------------------------------------------
    @cached_property
    def config(self) -> dict[str, Any]:
        """The resolved config the run saved (config.yaml), read once."""
        try:
            cfg = yaml.safe_load(self.config_file.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise HeadstartError(f"{self.path} is not a headstart run folder ({err})",
                                 fix="pass the --out of a finished run") from None
        if not isinstance(cfg, dict):
            raise HeadstartError(f"{self.config_file} is not a config", fix="pass the --out of a finished run")
        return cfg

    @property
    def model_name(self) -> str:
        """The `model` the run trained, `"<package>/<name>"`."""
        if not self.config.get("model"):
            raise HeadstartError(f"{self.config_file} names no model", fix="pass the --out of a finished run")
        return str(self.config["model"])

    @property
    def image_size(self) -> int | None:
        size = self.config.get("image_size")
        return size if isinstance(size, int) else None

    @property
    def method(self) -> str | None:
        """The pretraining method; None for a run that did not pretrain (finetune, study)."""
        return self.config.get("method")

    @property
    def pretrain_data(self) -> str | None:
        """The data the backbone was pretrained on: a pretraining run's `data`, else what a
        fine-tuned run recorded as its `forgetting_data`."""
        return self.config.get("data") if self.method else self.config.get("forgetting_data")

    # --- writing ----------------------------------------------------------------------------
    def save_config(self, text: str) -> None:
        write_text(self.config_file, text)
        self.__dict__.pop("config", None)

    def results(self) -> dict[str, Any]:
        """results.json, or {} when the run has none yet."""
        return json.loads(self.results_file.read_text()) if self.results_file.is_file() else {}

    def write_results(self, results: dict[str, Any]) -> None:
        write_json(self.results_file, results)

    def merge_results(self, new: dict[str, Any]) -> dict[str, Any]:
        """Update the keys of results.json (other keys stay), written atomically; returns all of it."""
        merged = {**self.results(), **new}
        self.write_results(merged)
        return merged

    def release(self) -> None:
        lock = self.path / "run.lock"
        if lock.is_file() and lock.read_text().split()[:1] == [str(os.getpid())]:
            lock.unlink(missing_ok=True)
            if self.created and not any(self.path.iterdir()):
                self.path.rmdir()


def default_out(command: str) -> Path:
    return Path("runs") / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}"


def open_run(out: Path | None, command: str, *, resume: bool, overwrite: bool, rank_zero: bool = True,
             marker: str = "checkpoints/last.ckpt") -> Run:
    """Create or reopen the run folder; only rank 0 checks, locks and clears. `--resume` without
    `marker` (the file a resumable run of this command leaves) is taken when the folder is empty or
    holds this run's config.yaml (killed before its first checkpoint): the command starts the run.

    The lock comes first: a folder another live process is writing is refused as in use,
    whatever the flags. Nothing in the folder changes unless every check passes.
    """
    run = Run(Path(out) if out is not None else default_out(command))
    if not rank_zero:
        return run
    path = run.path
    if path.exists() and not path.is_dir():
        raise HeadstartError(f"--out {path} is a file", fix="pass a folder path")
    if resume and overwrite:
        raise HeadstartError("--resume and --overwrite contradict each other",
                             fix="pass --resume to continue the run, or --overwrite to replace it")
    run.created = not path.exists()
    _check_writable(path)
    _lock(path)
    try:
        _check_claim(run, resume=resume, overwrite=overwrite, marker=marker)
    except BaseException:
        run.release()
        raise
    if overwrite:
        for child in path.iterdir():
            if child.name != "run.lock":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    for folder in (path, run.checkpoints, run.exported):
        _remove_partial_files(folder)
    return run


def _check_claim(run: Run, *, resume: bool, overwrite: bool, marker: str) -> None:
    path = run.path
    busy = any(p.name != "run.lock" for p in path.iterdir())
    if resume and not (path / marker).is_file() and busy and not run.config_file.is_file():
        raise HeadstartError(f"nothing to resume in {path} (no {marker}), and it holds files that are not a run",
                             fix="pass another --out, or --overwrite to replace what it holds")
    if busy and not resume and not overwrite:
        raise HeadstartError(f"{path} already holds a run", fix="pass --resume to continue it, --overwrite to "
                             "replace it, or another --out")


def _remove_partial_files(folder: Path) -> None:
    """Temporary files a killed process left half-written (`atomic_open`'s `.NAME.*.tmp`)."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as err:
        raise disk_error(err, path) from None
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise HeadstartError(f"only {free / 2**20:.0f} MiB free at {path}",
                             fix=f"free at least {MIN_FREE_BYTES // 2**20} MiB or pass --out on another disk")


def _lock(path: Path) -> None:
    """One writer per run folder: `run.lock` holds `PID HOST`; a dead owner's lock is taken over."""
    lock = path / "run.lock"
    me = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if _stale(lock):
                lock.unlink(missing_ok=True)
                continue
            owner = lock.read_text().strip() or "?"
            raise HeadstartError(f"{path} is in use by another headstart process (PID HOST: {owner})",
                                 fix="wait for it to finish, or pass another --out") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        return


def _stale(lock: Path) -> bool:
    """Whether `lock`'s owner is gone: a dead PID on this host, or a lock that is not `PID HOST`
    (a process killed between creating and writing it) and is more than a few seconds old."""
    try:
        pid_text, host = lock.read_text().split()[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        try:
            return time.time() - lock.stat().st_mtime > LOCK_WRITE_GRACE_S  # not a fresh lock being written
        except OSError:
            return True
    if host != socket.gethostname():
        return False  # another machine's process: cannot tell, so it is not stale
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

