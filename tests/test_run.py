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


def test_open_run__resume_without_checkpoint_opens_empty_or_this_run(tmp_path):
    open_run(tmp_path / "new", "pretrain", resume=True, overwrite=False).release()  # the command starts the run
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "config.yaml").write_text("steps: 5\n")  # killed before its first checkpoint
    open_run(tmp_path / "killed", "pretrain", resume=True, overwrite=False).release()


def test_open_run__error_resume_into_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(HeadstartError, match="nothing to resume .* holds files that are not a run"):
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


def test_run_read__a_finished_run_names_its_model_size_method_and_files(pretrained_run):
    from headstart.run import Run

    run = Run.read(pretrained_run)
    assert (run.model_name, run.method) == ("headstart/resnet-mini", "simclr")
    assert run.image_size == run.config["image_size"] == 32  # the folder's PNGs, resolved once and saved
    assert run.pretrain_data == run.config["data"] and run.backbone_file.is_file()
    assert not run.model_file.exists() and run.results()["steps"] == 6


def test_run_read__error_names_the_folder(tmp_path):
    from headstart.run import Run

    with pytest.raises(HeadstartError, match=f"{tmp_path} is not a headstart run folder"):
        Run.read(tmp_path)
    (tmp_path / "config.yaml").write_text("seed: 3\n")
    with pytest.raises(HeadstartError, match="names no model"):
        Run.read(tmp_path)


def test_run_merge_results__keeps_other_keys_and_writes_atomically(tmp_path):
    from headstart.run import Run

    run = Run(tmp_path)
    run.write_results({"knn": 0.5, "steps": 6})
    assert run.merge_results({"knn": 0.6, "linear_probe": 0.7}) == {"knn": 0.6, "steps": 6, "linear_probe": 0.7}
    assert run.results() == {"knn": 0.6, "steps": 6, "linear_probe": 0.7}
    assert not list(tmp_path.glob(".*.tmp"))
