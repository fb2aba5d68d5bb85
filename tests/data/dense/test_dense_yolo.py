from __future__ import annotations

import pytest
import torch

from headstart.data.dense.dataset import LabelWarning
from headstart.data.dense.sources import has_split, open_dense
from headstart.errors import HeadstartError
from tests.data.dense.scenes_data import SIZE, yolo_set


def test_read_yolo__boxes_and_classes_are_the_scenes(tmp_path, fmnist_train):
    root, scenes = yolo_set(tmp_path, fmnist_train)
    data = open_dense(str(root), task="detect", size=SIZE)
    assert len(data) == 32 and data.images.shape == (32, 1, SIZE, SIZE) and data.classes == fmnist_train.classes
    for i in range(len(data)):
        assert torch.allclose(data.boxes[i], torch.tensor(scenes[i].boxes, dtype=torch.float32), atol=1e-3)
        assert data.labels[i].tolist() == scenes[i].classes
    val = open_dense(f"{root}:val", task="detect", size=SIZE)
    assert len(val) == 8 and data.sizes[0] == (SIZE, SIZE)


def test_read_yolo__image_without_label_file_is_background(tmp_path, fmnist_train):
    root, _ = yolo_set(tmp_path, fmnist_train)
    (root / "labels" / "train" / "00003.txt").unlink()
    data = open_dense(str(root / "data.yaml"), task="detect", size=SIZE)
    assert len(data) == 32 and data.boxes[3].shape == (0, 4) and data.labels[3].shape == (0,)


def test_read_yolo__bad_lines_skipped_with_file_and_line(tmp_path, fmnist_train):
    root, _ = yolo_set(tmp_path, fmnist_train)
    label = root / "labels" / "train" / "00000.txt"
    label.write_text("1 0.5 0.5 0.25 0.25\n3 0.5 0.5\n12 0.5 0.5 0.2 0.2\n2 1.2 0.5 0.3 0.3\nx 0.5 0.5 0.1 0.1\n")
    with pytest.warns(LabelWarning) as caught:
        data = open_dense(str(root), task="detect", size=SIZE)
    messages = " ".join(str(w.message) for w in caught)
    for line, reason in ((2, "malformed"), (3, "unknown class id 12"), (4, "box outside the image"), (5, "malformed")):
        assert f"{label}:{line}: {reason}" in messages
    assert f"{label}:1" not in messages
    assert data.labels[0].tolist() == [1]
    assert torch.allclose(data.boxes[0], torch.tensor([[18.0, 18.0, 30.0, 30.0]]))


def test_read_yolo__missing_split_is_one_line_error(tmp_path, fmnist_train):
    root, _ = yolo_set(tmp_path, fmnist_train)
    assert has_split(str(root), "val") and not has_split(str(root), "test")
    with pytest.raises(HeadstartError, match="names no `test` split"):
        open_dense(f"{root}:test", task="detect")


def test_open_dense__boxes_for_segment_refused(tmp_path, fmnist_train):
    root, _ = yolo_set(tmp_path, fmnist_train)
    with pytest.raises(HeadstartError, match="not masks"):
        open_dense(str(root), task="segment")
    with pytest.raises(HeadstartError, match="no such file"):
        open_dense(str(tmp_path / "nope"), task="detect")
