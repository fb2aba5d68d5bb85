from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data.dense.dataset import IGNORE, LabelWarning
from headstart.data.dense.sources import has_split, open_dense
from tests.data.dense.scenes_data import SIZE, mask_set


def test_read_masks__label_maps_and_class_names(tmp_path, fmnist_train):
    root, scenes = mask_set(tmp_path, fmnist_train)
    data = open_dense(str(root), task="segment")
    assert data.classes == ["background", *fmnist_train.classes] and data.size == 64  # auto side
    val = open_dense(f"{root}:val", task="segment", size=SIZE)
    assert len(val) == 8 and has_split(str(root), "val") and not has_split(str(root), "test")
    assert all(np.array_equal(val.masks[i].numpy(), scenes[32 + i].label_map()) for i in range(8))


def test_read_masks__missing_mask_is_background_and_unknown_values_ignored(tmp_path, fmnist_train):
    root, scenes = mask_set(tmp_path, fmnist_train)
    (root / "train" / "masks" / "00001.png").unlink()
    bad = scenes[2].label_map()
    bad[:2, :2] = 40  # no class 40
    Image.fromarray(bad).save(root / "train" / "masks" / "00002.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "train" / "masks" / "00003.png")
    with pytest.warns(LabelWarning) as caught:
        data = open_dense(str(root), task="segment", size=SIZE)
    messages = " ".join(str(w.message) for w in caught)
    assert "00002.png: 4 pixels of unknown class values [40] set to ignore (255)" in messages
    assert "00003.png: mask is 10x10, its image 48x48" in messages
    assert len(data) == 31  # the image whose mask does not fit is left out
    assert int(data.masks[1].sum()) == 0
    assert (data.masks[2][:2, :2] == IGNORE).all()
    assert data.masks[2][2:, 2:].equal(torch.from_numpy(scenes[2].label_map()[2:, 2:]))
