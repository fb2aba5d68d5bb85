"""Class probabilities of a classifier over an `ImageSet`, batch by batch, without gradients."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from headstart.data.imageset import ImageSet, collate
from headstart.data.views.inputs import model_input
from headstart.progress import progress


def default_device(accelerator: str = "auto") -> torch.device:
    """A CUDA device when one is visible and not refused (`--accelerator cpu`), else the CPU."""
    return torch.device("cuda" if accelerator != "cpu" and torch.cuda.is_available() else "cpu")


@torch.no_grad()
def predict_probs(
    model: nn.Module,
    data: ImageSet,
    *,
    image_size: int,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Softmax probabilities `(N, K)` (float32, CPU) of `model` (eval mode) on `data` at `image_size` px."""
    device = torch.device(device) if device is not None else default_device()
    was_training = model.training
    model.eval().to(device)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate)
    out = []
    try:
        for images, _ in _bar(loader, progress):
            x = model_input(images.to(device, non_blocking=True), image_size)  # (B, C, S, S) in [0, 1] or ids
            out.append(model(x).float().softmax(dim=1).cpu())  # (B, K)
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def _bar(loader, enabled: bool) -> Iterator:
    with progress("predicting (batches)", len(loader), enabled=enabled, transient=True) as advance:
        for batch in loader:
            yield batch
            advance(1)
