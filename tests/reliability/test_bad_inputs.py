"""Bad inputs through the CLI: every odd file is used or skipped with a one-line warning naming
it; a folder that cannot be used is a one-line error and exit code 2. Never a traceback."""

from __future__ import annotations

import csv
import os
import shutil

import numpy as np
import pytest
from conftest import SMALL
from corpus import CASES, LONG_STEM, deny_reading, files_kept, write_good

from headstart.data.decode import show_path

pytestmark = pytest.mark.timeout(300)
GOOD = 8


def index_rows(folder) -> list[dict]:
    with open(folder / "index.csv", newline="", encoding="utf-8", errors="surrogateescape") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("case", list(CASES))
def test_embed__each_bad_input_case(case, tmp_path, fmnist_test, pretrained_run, cli, monkeypatch):
    make, outcome = CASES[case]
    folder = tmp_path / "images"
    write_good(folder, fmnist_test, GOOD)
    named = make(folder, fmnist_test)
    deny_reading(monkeypatch, {"locked.png"})  # as root, chmod 000 stops nothing
    kept = files_kept(folder) if outcome == "kept" else 0

    res = cli("embed", "--run", pretrained_run, "--data", folder, "--out", tmp_path / "emb", "--no-progress")

    assert res.code == 0 and "Traceback" not in res.err, res.err
    rows = index_rows(tmp_path / "emb")
    assert len(rows) == GOOD + kept
    assert np.load(tmp_path / "emb" / "embeddings.npy").shape == (GOOD + kept, 1024)
    if outcome == "skipped":
        assert len(res.warnings) == 1, res.err
        assert show_path(folder / named) in res.warnings[0] and res.warnings[0].startswith("headstart embed: warning:")
        assert all(named not in r["path"] for r in rows)
    else:
        assert res.warnings == [], res.err


def test_embed__odd_names_round_trip_in_the_index(tmp_path, fmnist_test, pretrained_run, cli):
    folder = tmp_path / "images"
    write_good(folder, fmnist_test, 2)
    CASES["non-UTF-8 file name"][0](folder, fmnist_test)
    CASES["255-byte file name"][0](folder, fmnist_test)
    assert cli("embed", "--run", pretrained_run, "--data", folder, "--out", tmp_path / "e", "--no-progress").code == 0
    raw = (tmp_path / "e" / "index.csv").read_bytes()
    assert b"caf\xe9_\xff.png" in raw  # the file's own bytes: the path opens again as written
    paths = [r["path"] for r in index_rows(tmp_path / "e")]
    assert all(os.path.isfile(p) for p in paths) and any(p.endswith(LONG_STEM + ".png") for p in paths)


def test_pretrain__trains_through_the_whole_corpus(tmp_path, fmnist_test, cli, monkeypatch):
    folder = tmp_path / "images"
    write_good(folder, fmnist_test, 24)
    skipped = [make(folder, fmnist_test) for make, outcome in CASES.values() if outcome == "skipped"]
    for make, outcome in CASES.values():
        if outcome != "skipped":
            make(folder, fmnist_test)
    deny_reading(monkeypatch, {"locked.png"})

    res = cli("pretrain", "--data", folder, "--steps", "4", "--out", tmp_path / "run", *SMALL)

    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert len(res.warnings) == len(skipped) == 10
    for name in skipped:
        assert sum(show_path(folder / name) in w for w in res.warnings) == 1
    assert (tmp_path / "run" / "exported" / "backbone.safetensors").is_file()

    stop = cli("pretrain", "--data", folder, "--steps", "1", "--out", tmp_path / "fail", "--on-bad-image", "fail",
               *SMALL)
    assert stop.code == 2 and len(stop.errors) == 1 and "bad image" in stop.errors[0], stop.err
    assert "--on-bad-image skip" in stop.errors[0] and "Traceback" not in stop.err


def test_pretrain__streamed_folder_serves_black_for_a_bad_file(tmp_path, fmnist_test, cli, monkeypatch):
    """A folder over the memory budget is decoded by the loader workers, batch by batch: a file that
    passed the header probe but is truncated is a black image and one warning, not a crash mid-epoch."""
    from headstart.data import sources

    folder = tmp_path / "images"
    write_good(folder, fmnist_test, 31)
    CASES["truncated png"][0](folder, fmnist_test)
    monkeypatch.setattr(sources, "default_memory_budget", lambda: 0)

    res = cli("pretrain", "--data", folder, "--steps", "3", "--num-workers", "1", "--out", tmp_path / "run", *SMALL)

    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert [w for w in res.warnings if "serving a black image for" in w and "truncated.png" in w], res.err  # by the worker
    assert (tmp_path / "run" / "exported" / "backbone.safetensors").is_file()


def _only_bad(folder, fashion, monkeypatch) -> None:
    for name in ("truncated png", "zero-byte jpeg", "text file named .jpg", "unreadable (permission)"):
        CASES[name][0](folder, fashion)
    deny_reading(monkeypatch, {"locked.png"})


def _one_class(folder, fashion, monkeypatch) -> None:
    write_good(folder / "only_class", fashion, 20)


def _empty(folder, fashion, monkeypatch) -> None:
    (folder / "sub").mkdir()


def _too_few(folder, fashion, monkeypatch) -> None:
    write_good(folder, fashion, 5)


FOLDERS = {  # case -> (maker, exit code, a phrase of the one line the user sees)
    "empty folder": (_empty, 2, "no images in"),
    "folder of only bad files": (_only_bad, 2, "could be"),
    "fewer images than --batch-size": (_too_few, 2, "--batch-size 16 is larger than the data (5 images)"),
    "one class folder (unlabeled)": (_one_class, 0, "pretrained 2 steps"),
}


@pytest.mark.parametrize("case", list(FOLDERS))
def test_pretrain__folder_cases(case, tmp_path, fmnist_test, cli, monkeypatch):
    make, code, phrase = FOLDERS[case]
    folder = tmp_path / "images"
    folder.mkdir()
    make(folder, fmnist_test, monkeypatch)
    res = cli("pretrain", "--data", folder, "--steps", "2", "--out", tmp_path / "run", *SMALL)
    assert res.code == code, res.err
    assert "Traceback" not in res.err
    if code:
        assert len(res.errors) == 1 and phrase in res.errors[0], res.err
        assert not (tmp_path / "run").exists()  # a refused run leaves nothing behind
    else:
        assert phrase in res.out


def test_pretrain__class_with_one_image(tmp_path, fmnist_test, cli):
    folder = tmp_path / "images"
    write_good(folder / "many", fmnist_test, 31)
    write_good(folder / "single", fmnist_test, 1, start=500)
    res = cli("embed", "--run", _tiny_run(tmp_path, folder, cli), "--data", folder, "--out", tmp_path / "e",
              "--no-progress")
    assert res.code == 0, res.err
    labels = [r["label"] for r in index_rows(tmp_path / "e")]
    assert labels.count("single") == 1 and labels.count("many") == 31


def _tiny_run(tmp_path, folder, cli):
    res = cli("pretrain", "--data", folder, "--steps", "2", "--out", tmp_path / "run", *SMALL)
    assert res.code == 0 and res.warnings == [], res.err
    return tmp_path / "run"


def test_pretrain__missing_or_file_data_path(tmp_path, cli):
    (tmp_path / "one.png").write_bytes(b"")
    for data, phrase in ((tmp_path / "nowhere", "no such file or folder"), (tmp_path / "one.png", "single file")):
        res = cli("pretrain", "--data", data, "--steps", "1", "--out", tmp_path / "run", *SMALL)
        assert res.code == 2 and len(res.errors) == 1 and phrase in res.errors[0], res.err
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
