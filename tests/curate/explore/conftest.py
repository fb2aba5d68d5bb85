"""Shared by the explorer's tests: 320 real Fashion-MNIST PNGs (4 classes) plus 3 planted copies,
embedded by the tiny pretrained resnet-mini of the session, and the real server on a free port."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn

from headstart.commands.explore import explorer_for
from headstart.curate.explore.config import ExploreConfig
from headstart.curate.explore.server import make_app

PLANTED = 3


@pytest.fixture(scope="session")
def setup(tmp_path_factory, pretrained_run, fmnist_folder):
    """(run copy, data folder, planted (original, copy) path pairs): caches land in the copy."""
    root = tmp_path_factory.mktemp("explore")
    run = root / "run"
    shutil.copytree(pretrained_run, run, ignore=shutil.ignore_patterns("checkpoints", "explore"))
    data = root / "images"
    shutil.copytree(fmnist_folder, data)
    originals = sorted(data.rglob("*.png"))[::97][:PLANTED]
    pairs = []
    for p in originals:
        copy = p.with_name("copy-" + p.name)
        shutil.copy(p, copy)
        pairs.append((str(p), str(copy)))
    return run, data, pairs


@pytest.fixture(scope="session")
def explorer(setup):
    run, data, _ = setup
    return explorer_for(ExploreConfig(run=run, data=str(data), clusters=4, progress=False))


@pytest.fixture(scope="session")
def served(explorer):
    """The real server on a free local port, in a thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(make_app(explorer), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)
