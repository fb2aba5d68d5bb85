"""`headstart explore` from the command line: a static page, the server's start, its warnings."""

from __future__ import annotations

import json
import shutil

import pytest

from headstart.cli.main import main
from headstart.commands import explore as command
from headstart.curate.explore import server


@pytest.fixture(scope="module")
def run_copy(tmp_path_factory, pretrained_run):
    out = tmp_path_factory.mktemp("explore-cli") / "run"
    shutil.copytree(pretrained_run, out, ignore=shutil.ignore_patterns("checkpoints", "explore"))
    return out


def test_explore__static_file_from_the_cli(run_copy, fmnist_folder, tmp_path, capsys):
    out = tmp_path / "explorer.html"
    code = main(["explore", "--run", str(run_copy), "--data", str(fmnist_folder), "--static", str(out),
                 "--no-progress"])
    assert code == 0 and capsys.readouterr().out.strip() == f"wrote {out}"
    data = json.loads(out.read_text().split("window.EXPLORE_DATA = ")[1].split(";</script>")[0])
    assert data["n"] == 320 and len(data["columns"]["label"]["names"]) == 4


def test_explore__serves_on_localhost_by_default_and_warns_on_another_host(run_copy, fmnist_folder, monkeypatch,
                                                                           capsys):
    calls = []
    monkeypatch.setattr(server, "serve", lambda explorer, host, port: calls.append((len(explorer), host, port)))
    assert main(["explore", "--run", str(run_copy), "--data", str(fmnist_folder), "--no-browser",
                 "--no-progress"]) == 0
    assert calls == [(320, "127.0.0.1", 8765)] and "http://localhost:8765/" in capsys.readouterr().out
    assert main(["explore", "--run", str(run_copy), "--data", str(fmnist_folder), "--no-browser", "--host",
                 "0.0.0.0", "--port", "9000", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert calls[-1] == (320, "0.0.0.0", 9000)
    assert "headstart explore: warning: serving on 0.0.0.0" in err


def test_explore__a_missing_run_is_one_line(fmnist_folder, tmp_path, capsys):
    code = main(["explore", "--run", str(tmp_path / "nope"), "--data", str(fmnist_folder), "--static",
                 str(tmp_path / "x.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not a headstart run folder" in err[0]
    assert not (tmp_path / "x.html").exists()
    assert command.ExposedWarning.__module__.startswith("headstart.")
