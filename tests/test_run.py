"""Run folders: never clobbered, one writer at a time, stale locks taken over."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from headstart.errors import HeadstartError
from headstart.run import open_run


def test_open_run__refuses_non_empty_without_flag(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(HeadstartError, match="already holds a run.*--overwrite"):
        open_run(tmp_path, "pretrain", resume=False, overwrite=False)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_open_run__overwrite_clears(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    run = open_run(tmp_path, "pretrain", resume=False, overwrite=True)
    assert not (tmp_path / "old.txt").exists()
    run.release()
    assert not (tmp_path / "run.lock").exists()


def test_open_run__error_resume_without_checkpoint(tmp_path):
    with pytest.raises(HeadstartError, match="nothing to resume"):
        open_run(tmp_path, "pretrain", resume=True, overwrite=False)


def test_lock__second_writer_refused_and_stale_lock_taken(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "run.lock").write_text(f"{holder.pid} {os.uname().nodename}")
        with pytest.raises(HeadstartError, match=f"in use by another headstart process.*{holder.pid}"):
            open_run(tmp_path, "pretrain", resume=False, overwrite=False)
    finally:
        holder.kill()
        holder.wait()
    run = open_run(tmp_path, "pretrain", resume=False, overwrite=False)  # owner is dead: stale
    assert (tmp_path / "run.lock").read_text().split()[0] == str(os.getpid())
    run.release()


@pytest.mark.parametrize("err, message", [(errno.EACCES, "cannot write"), (errno.ENOSPC, "disk full")])
def test_open_run__error_unwritable_folder(tmp_path, monkeypatch, err, message):
    """EACCES/ENOSPC at start: a clear error before any compute (simulated: root may write anywhere)."""
    import pathlib

    def fail(self, data):
        raise OSError(err, os.strerror(err), str(self))

    monkeypatch.setattr(pathlib.Path, "write_bytes", fail)
    with pytest.raises(HeadstartError, match=message):
        open_run(tmp_path / "run", "pretrain", resume=False, overwrite=False)
