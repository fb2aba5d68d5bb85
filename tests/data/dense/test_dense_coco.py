from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from headstart.data.dense.dataset import LabelWarning
from headstart.data.dense.sources import has_split, open_dense
from headstart.errors import HeadstartError
from tests.data.dense.scenes_data import SIZE, coco_set


def test_read_coco__boxes_and_label_maps_are_the_scenes(tmp_path, fmnist_train):
    path, scenes = coco_set(tmp_path, fmnist_train)
    det = open_dense(str(path), task="detect", size=SIZE)
    assert len(det) == 20 and det.classes == fmnist_train.classes and not has_split(str(path), "val")
    for i, s in enumerate(scenes):
        assert torch.equal(det.boxes[i], torch.tensor(s.boxes, dtype=torch.float32).reshape(-1, 4))
        assert det.labels[i].tolist() == s.classes
    seg = open_dense(str(path), task="segment", size=SIZE)  # RLE masks painted class + 1
    assert seg.classes == ["background", *fmnist_train.classes]
    assert all(np.array_equal(seg.masks[i].numpy(), s.label_map()) for i, s in enumerate(scenes))


def test_read_coco__polygons_paint_their_region(tmp_path, fmnist_train):
    path, _ = coco_set(tmp_path, fmnist_train, count=2)
    spec = json.loads(path.read_text())
    spec["annotations"] = [{"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 0, "bbox": [4, 8, 20, 10],
                            "segmentation": [[4, 8, 24, 8, 24, 18, 4, 18]]}]
    path.write_text(json.dumps(spec))
    seg = open_dense(str(path), task="segment", size=SIZE)
    painted = seg.masks[0] == 3  # category id 3 is the third category: value 3
    ys, xs = torch.nonzero(painted, as_tuple=True)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (4, 23, 8, 17) and int(seg.masks[1].sum()) == 0


def test_read_coco__bad_annotations_skipped_with_their_index(tmp_path, fmnist_train):
    path, scenes = coco_set(tmp_path, fmnist_train, count=3)
    spec = json.loads(path.read_text())
    spec["annotations"] += [
        {"id": 900, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]},
        {"id": 901, "image_id": 1, "category_id": 1, "bbox": [40, 40, 30, 30]},
        {"id": 902, "image_id": 77, "category_id": 1, "bbox": [1, 1, 5, 5]},
        {"id": 903, "image_id": 1, "category_id": 1, "bbox": "wide"},
    ]
    path.write_text(json.dumps(spec))
    n = len(spec["annotations"]) - 4
    with pytest.warns(LabelWarning) as caught:
        det = open_dense(str(path), task="detect", size=SIZE)
    messages = [str(w.message) for w in caught]
    assert any(f"annotation {n} (id 900): unknown category id 99" in m for m in messages)
    assert any(f"annotation {n + 1} (id 901): box outside the image" in m for m in messages)
    assert any(f"annotation {n + 2} (id 902): unknown image id 77" in m for m in messages)
    assert any(f"annotation {n + 3} (id 903): malformed bbox" in m for m in messages)
    assert det.labels[0].tolist() == scenes[0].classes  # the good ones kept


def test_read_coco__not_coco_is_one_line_error(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"images": []}')
    with pytest.raises(HeadstartError, match="is not COCO JSON"):
        open_dense(str(bad), task="detect")
