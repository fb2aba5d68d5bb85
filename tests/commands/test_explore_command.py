"""`headstart explore` from the command line: a static page, the server's start, its warnings."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from headstart.cli.main import main
from headstart.commands import explore as command
from headstart.curate.explore import server


@pytest.fixture(scope="module")
def run_copy(tmp_path_factory, pretrained_run):
    out = tmp_path_factory.mktemp("explore-cli") / "run"
    shutil.copytree(pretrained_run, out, ignore=shutil.ignore_patterns("checkpoints", "cache"))
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


def test_explore__predictions_and_labels_csv_colour_the_map(run_copy, pretrained_run, tmp_path, fmnist_train,
                                                            fmnist_test):
    from starlette.testclient import TestClient

    from headstart.commands.explore import explorer_for
    from headstart.curate.explore.config import ExploreConfig
    from headstart.curate.explore.server import make_app
    from tests.adapt.conftest import finetune_fast, make_ft_root

    data = make_ft_root(tmp_path / "data", fmnist_train, fmnist_test)
    finetune_fast(tmp_path / "ft", from_=str(pretrained_run), data=str(data), strategy="linear", epochs=2)
    test = data / "test"
    files = sorted(test.rglob("*.png"))
    # a labels CSV with relative paths that relabels one class and says nothing of another
    labels = tmp_path / "labels.csv"
    rows = [f"{p.relative_to(tmp_path)},{'shoe' if p.parent.name in ('Sneaker', 'Ankle boot') else p.parent.name}"
            for p in files if p.parent.name != "Trouser"]
    labels.write_text("path,label\n" + "\n".join(rows) + "\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        ex = explorer_for(ExploreConfig(run=run_copy, data=str(test), labels=labels, predictions=tmp_path / "ft",
                                        clusters=4, progress=False))
    finally:
        os.chdir(cwd)
    d = TestClient(make_app(ex)).get("/api/points").json()
    assert set(d["columns"]) == {"label", "cluster", "typicality", "prediction", "correct", "uncertainty"}
    assert d["columns"]["label"]["names"] == ["unknown", "T-shirt-top", "shoe"]
    assert set(d["columns"]["prediction"]["names"]) <= {"Ankle boot", "Sneaker", "T-shirt-top", "Trouser"}
    correct = d["columns"]["correct"]
    counts = dict(zip(correct["names"], np.bincount(correct["codes"]).tolist()))
    assert counts["unlabeled"] == 40  # the trousers the CSV leaves out
    truth = [p.parent.name for p in files]
    hits = sum(a == b for a, b in zip(ex.predictions, truth))
    assert counts.get("correct", 0) == sum(a == b == "T-shirt-top" for a, b in zip(ex.predictions, truth))
    assert hits / len(truth) > 0.5  # 4 classes: 0.25 by chance
    u = np.array(d["columns"]["uncertainty"]["values"])
    assert ((0 <= u) & (u <= 1)).all() and u.std() > 0
    assert "uncertain" in d["strategies"]


def test_explore__without_starlette_says_what_to_install_before_embedding(run_copy, fmnist_folder, monkeypatch,
                                                                          capsys):
    import sys

    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    monkeypatch.delitem(sys.modules, "headstart.curate.explore.server", raising=False)
    monkeypatch.setattr(command, "explorer_for", lambda cfg: pytest.fail("embedded before checking the server"))
    code = main(["explore", "--run", str(run_copy), "--data", str(fmnist_folder), "--no-browser"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'headstart[explore]'" in err[0]
