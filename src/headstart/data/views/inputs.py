"""What a model reads from a served batch, outside training's augmented views: pixels become float
images in [0, 1] at the evaluation side, token ids stay token ids.

The two kinds of batch tell themselves apart by dtype: an `ImageSet` serves uint8 (or float) pixels
`(B, C, H, W)`, a `TextSet` int64 token ids `(B, T)`. Evaluation code (validation, prediction) calls
`model_input` and works for both.
"""

from __future__ import annotations

import torch

from headstart.data.views.ops import to_float


def is_token_batch(x: torch.Tensor) -> bool:
    """Integer, but not uint8 pixels: token ids."""
    return not x.dtype.is_floating_point and x.dtype != torch.uint8


def model_input(x: torch.Tensor, size: int | None = None, *, channels_last: bool = False) -> torch.Tensor:
    """Images: `to_float(x, size)`; token ids: `x` as it is (the model pads and masks itself)."""
    if is_token_batch(x):
        return x
    return to_float(x, size, channels_last=channels_last)
