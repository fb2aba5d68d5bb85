"""The scene generator: real items on black or textured canvases, with unlabeled clutter."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.data.dense.scenes import MASK_THRESHOLD, TEXTURE_MAX, compose_scenes


def _compose(fmnist, **kw):
    return compose_scenes(fmnist.images[:500, 0].numpy(), fmnist.labels[:500], count=60, size=48,
                          scale=(0.6, 1.0), seed=4, **kw)


def test_scenes__seeded_and_labels_match_pixels(fmnist_train):
    a, b = (_compose(fmnist_train, background="texture", clutter=(1, 3)) for _ in range(2))
    assert all(np.array_equal(x.image, y.image) and x.boxes == y.boxes for x, y in zip(a, b, strict=True))
    for s in a:
        for box, mask in zip(s.boxes, s.masks, strict=True):
            ys, xs = np.nonzero(mask)
            assert box[0] <= xs.min() and xs.max() < box[2] and box[1] <= ys.min() and ys.max() < box[3]
            assert (s.image[mask] > MASK_THRESHOLD).all()  # a mask pixel shows its item's own pixel
        union = np.zeros_like(s.masks[0]) if s.masks else None
        for m in s.masks:
            assert not (union & m).any()  # masks are modal: a pixel belongs to one item
            union |= m


def test_scenes__texture_fills_the_background_and_clutter_is_unlabeled(fmnist_train):
    black, textured = _compose(fmnist_train), _compose(fmnist_train, background="texture")
    cluttered = _compose(fmnist_train, background="texture", clutter=(2, 2))
    bg = np.concatenate([s.image[s.label_map() == 0] for s in textured])
    assert (np.concatenate([s.image[s.label_map() == 0] for s in black]) == 0).mean() > 0.9
    assert bg.mean() > 15 and np.percentile(bg, 99) <= TEXTURE_MAX + 1 and bg.std() > 5
    # the same seed draws the same items: clutter adds bright unlabeled pixels, no boxes
    extra = sum(int(((c.image > 150) & (c.label_map() == 0)).sum()) for c in cluttered)
    assert extra > sum(int(((t.image > 150) & (t.label_map() == 0)).sum()) for t in textured) + 500
    assert sum(len(s.boxes) for s in cluttered) == pytest.approx(sum(len(s.boxes) for s in textured), rel=0.3)
    with pytest.raises(ValueError, match="texture"):
        _compose(fmnist_train, background="noise")
