from __future__ import annotations

import torch

from headstart.data.dense.augment import dense_views
from headstart.data.dense.sources import open_dense
from tests.data.dense.scenes_data import SIZE, scenes, write_masks


def _batch(tmp_path, fmnist_train):
    s = scenes(fmnist_train, 16, objects=(1, 1), seed=3)
    write_masks(tmp_path, {"train": s}, fmnist_train.classes)
    data = open_dense(str(tmp_path), task="segment", size=SIZE)
    boxes = [torch.tensor(x.boxes, dtype=torch.float32) for x in s]
    labels = [torch.tensor(x.classes) for x in s]
    return data.images, boxes, labels, data.masks


def _tight(on: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(on, as_tuple=True)
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)


def test_dense_views__boxes_and_masks_follow_the_pixels(tmp_path, fmnist_train):
    images, boxes, labels, masks = _batch(tmp_path, fmnist_train)
    gen = torch.Generator().manual_seed(0)
    views, vboxes, vlabels, vmasks = dense_views(images, boxes, labels, masks, size=64, gen=gen, scale=(0.3, 1.0))
    assert views.shape == (16, 1, 64, 64) and vmasks.shape == (16, 64, 64) and 0 <= views.min() <= views.max() <= 1
    checked = 0
    for i in range(16):
        if len(vboxes[i]) == 0:
            continue
        # bilinear sampling spreads an edge pixel by at most half a source pixel (x zoom <= 2) plus one
        assert torch.allclose(_tight(views[i, 0] > 0), vboxes[i][0], atol=2.0), i
        assert vlabels[i].tolist() == labels[i].tolist()
        assert (vmasks[i][vmasks[i] > 0] == labels[i][0] + 1).all()
        inside = _tight(vmasks[i] > 0)
        assert (inside[:2] >= vboxes[i][0, :2] - 2).all() and (inside[2:] <= vboxes[i][0, 2:] + 2).all()
        checked += 1
    assert checked >= 8


def test_dense_views__full_crop_with_flip_mirrors_exactly(tmp_path, fmnist_train):
    images, boxes, labels, masks = _batch(tmp_path, fmnist_train)
    gen = torch.Generator().manual_seed(0)
    views, vboxes, _, vmasks = dense_views(images, boxes, labels, masks, size=SIZE, gen=gen, scale=(1.0, 1.0),
                                           flip_p=1.0)
    assert torch.allclose(views * 255, images.flip(-1).float(), atol=1e-3)
    assert torch.equal(vmasks, masks.flip(-1))
    b = boxes[0][0]
    assert torch.allclose(vboxes[0][0], torch.stack([SIZE - b[2], b[1], SIZE - b[0], b[3]]), atol=1e-4)


def test_dense_views__same_seed_same_views(tmp_path, fmnist_train):
    images, boxes, labels, masks = _batch(tmp_path, fmnist_train)
    a = dense_views(images, boxes, labels, masks, size=48, gen=torch.Generator().manual_seed(5))
    b = dense_views(images, boxes, labels, masks, size=48, gen=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and all(torch.equal(x, y) for x, y in zip(a[1], b[1], strict=True))
