"""Shared fixtures: real Fashion-MNIST data, written out as image folders where a test needs files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HEADSTART_QUIET", "1")
# Ultralytics (the optional yolo extra) never reaches out in a test, and keeps its settings file out of
# the user's config folder
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "headstart-tests-ultralytics"))
torch.set_num_threads(min(2, os.cpu_count() or 1))
_KEPT_ENV = ("OMP_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED")


@pytest.fixture(autouse=True)
def _process_state_restored():
    """What a test (Ultralytics' trainer above all) changes for the whole process is put back after it:
    deterministic algorithms (they pick other CPU kernels, so a later run would not repeat an earlier one
    bit for bit), torch's threads, PIL's Image.open, and the environment variables Ultralytics sets."""
    from PIL import Image

    deterministic, warn_only = torch.are_deterministic_algorithms_enabled(), \
        torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    threads, image_open = torch.get_num_threads(), Image.open
    env = {k: os.environ.get(k) for k in _KEPT_ENV}
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.utils.deterministic.fill_uninitialized_memory = fill
    torch.set_num_threads(threads)
    Image.open = image_open
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def fmnist_train():
    from headstart.data.idx import open_idx

    return open_idx("fashion-mnist", "train")


@pytest.fixture(scope="session")
def fmnist_test():
    from headstart.data.idx import open_idx

    return open_idx("fashion-mnist", "test")


def write_folder(root: Path, imageset, per_class: int, classes: list[int]) -> Path:
    """Real Fashion-MNIST images as PNGs in class sub-folders (`root/<class>/<i>.png`)."""
    from PIL import Image

    for c in classes:
        idx = np.flatnonzero(imageset.labels == c)[:per_class]
        folder = root / imageset.classes[c].replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        for i in idx:
            Image.fromarray(imageset.images[i, 0].numpy()).save(folder / f"{i:05d}.png")
    return root


@pytest.fixture(scope="session")
def folder_writer():
    """`write_folder(root, imageset, per_class, classes)` for tests that need more image folders."""
    return write_folder


@pytest.fixture(scope="session")
def fmnist_folder(tmp_path_factory, fmnist_train) -> Path:
    """320 real images: 4 classes x 80, as PNG files."""
    return write_folder(tmp_path_factory.mktemp("fm-folder"), fmnist_train, 80, [0, 1, 7, 9])


@pytest.fixture(scope="session")
def pretrained_run(tmp_path_factory, fmnist_folder) -> Path:
    """A tiny finished pretraining run of the built-in net (6 steps), reused by read-only tests."""
    import headstart

    out = tmp_path_factory.mktemp("runs") / "mini"
    headstart.pretrain(data=str(fmnist_folder), model="headstart/resnet-mini", method="simclr", steps=6,
                       batch_size=32, out=out, progress=False, monitor=False)
    return out


@pytest.fixture
def stop_training_at(monkeypatch):
    """`stop_training_at(Module, step)`: the module's training step raises RuntimeError("stopped") at that
    global step (a run cut midway, its checkpoints as they were); returns a function that undoes it."""

    def stop(module_cls, step: int):
        original = module_cls.training_step

        def training_step(self, batch, batch_idx):
            if self.global_step == step:
                raise RuntimeError("stopped")
            return original(self, batch, batch_idx)

        monkeypatch.setattr(module_cls, "training_step", training_step)
        return lambda: monkeypatch.setattr(module_cls, "training_step", original)

    return stop
