"""The study's test split and its frozen-feature kNN when --data is a path (an IDX folder, split folders)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from headstart.commands.study.frozen import frozen_knn, held_out_spec
from headstart.data.idx import FILES
from headstart.eval.study.config import StudyConfig


def write_idx_folder(root: Path, train, test, n_train: int, n_test: int) -> Path:
    """The four Fashion-MNIST IDX .gz files, cut to the first n images of each split."""
    root.mkdir(parents=True, exist_ok=True)
    for split, data, n in (("train", train, n_train), ("test", test, n_test)):
        images = data.images[:n, 0].numpy().astype(np.uint8)                     # (n, 28, 28)
        labels = data.labels[:n].astype(np.uint8)
        image_file, label_file = FILES[split]
        with gzip.open(root / image_file, "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        with gzip.open(root / label_file, "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + labels.tobytes())
    return root


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory, fmnist_train, fmnist_test) -> Path:
    return write_idx_folder(tmp_path_factory.mktemp("idx") / "fm", fmnist_train, fmnist_test, 400, 200)


def test_test_spec__the_pool_own_test_split(idx_folder, tmp_path, folder_writer, fmnist_train, fmnist_test):
    assert held_out_spec(StudyConfig(data=str(idx_folder))) == f"{idx_folder}:test"        # the t10k files
    assert held_out_spec(StudyConfig(data="fashion-mnist")) == "fashion-mnist:test"
    assert held_out_spec(StudyConfig(data="fashion-mnist:train")) is None
    assert held_out_spec(StudyConfig(data="x", labeled=str(idx_folder))) == f"{idx_folder}:test"
    assert held_out_spec(StudyConfig(data=str(idx_folder), test="other")) == "other"
    split = tmp_path / "split"
    folder_writer(split / "train", fmnist_train, 2, [0, 1])
    folder_writer(split / "test", fmnist_test, 2, [0, 1])
    assert held_out_spec(StudyConfig(data=str(split))) == f"{split}:test"
    assert held_out_spec(StudyConfig(data=str(split / "train"))) is None                   # no test split of its own


def test_frozen_knn__idx_folder_by_path_gives_figures(idx_folder, pretrained_run, tmp_path):
    # the bug: a path gave no test split, so the study's frozen section had a title and no figures
    cfg = StudyConfig(data=str(idx_folder))
    frozen = frozen_knn(cfg, pretrained_run, tmp_path / "frozen_knn.json")
    assert frozen is not None and (frozen["bank"], frozen["queries"], frozen["k"]) == (400, 200, 20)
    assert 0.6 < frozen["pixels"] <= 1.0                                           # 10 classes, real images
    assert all(0.2 < frozen[k] <= 1.0 for k in ("pretrained", "random"))
