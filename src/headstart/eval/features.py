"""Frozen features of an image set: one pass of a model over every image, in order.

The `ImageSet` serves whole uint8 batches (`__getitems__`), so the DataLoader only hands them
on (`collate`). Batches become float images in [0, 1] on the model's device; the model does
its own normalisation (a `Backbone` does). Under `inference_mode`, and in bf16 autocast where
the hardware runs bf16 natively (GPUs, AVX512-BF16/AMX CPUs) unless `bf16=False`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from headstart.data.imageset import ImageSet, collate
from headstart.errors import HeadstartError
from headstart.progress import progress

PROGRESS_MIN_BATCHES = 8  # fewer batches than this: no progress bar


def extract_features(
    model: Callable[[torch.Tensor], torch.Tensor],
    imageset: ImageSet,
    *,
    batch_size: int = 512,
    size: int | None = None,
    channels: int | None = None,
    device: torch.device | str | None = None,
    bf16: bool = True,
    num_workers: int = 0,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of every image of `imageset`, in the set's order.

    Args:
        model: maps float `(B, C, H, W)` images in [0, 1] to `(B, D)` features. An `nn.Module`
            is run in eval mode (its mode is restored after) and moved to `device` if given.
        imageset: the images; `size`/`channels` re-format it (None: as it is served).
        batch_size: images per forward pass.
        device: where the model runs; None: the model's own device (CPU for a plain function).
        bf16: allow bf16 autocast where the hardware runs it natively.
        num_workers: DataLoader workers (0 suits in-memory sets; decoded folders gain from more).
        progress: show a progress bar when there are many batches.

    Returns:
        `(feats, labels)`: float32 `(N, D)` and int64 `(N,)` on the CPU (-1 where unlabeled).

    Example:
        >>> feats, labels = extract_features(backbone, data, size=64, channels=3)
    """
    if size is not None or channels is not None:
        imageset = imageset.with_format(size=size if size is not None else imageset.size,
                                        channels=channels or imageset.channels)
    device = torch.device(device) if device is not None else _device_of(model)
    loader = torch.utils.data.DataLoader(imageset, batch_size=batch_size, shuffle=False,
                                         num_workers=num_workers, collate_fn=collate)
    feats, labels, row = None, torch.empty(len(imageset), dtype=torch.long), 0
    with _eval_mode(model, device), torch.inference_mode(), _autocast(device, bf16):
        for images, y in _progress(loader, enabled=progress):
            x = images.to(device, non_blocking=True)
            out = model(x.float().div_(255) if x.dtype == torch.uint8 else x)  # (B, D); token ids go as they are
            if out.ndim != 2:
                raise HeadstartError(f"the model returned features of shape {tuple(out.shape)}, not (B, D)",
                                     fix="pool token or spatial features into one vector per image")
            if feats is None:  # filled in place: a million 1024-d rows are 4 GB, a list and a cat would be 8
                feats = torch.empty((len(imageset), out.shape[1]), dtype=torch.float32)
            feats[row:row + len(out)] = out.float()
            labels[row:row + len(out)] = torch.as_tensor(y)
            row += len(out)
    if feats is None:
        raise HeadstartError(f"no images to extract features from in {imageset.source or 'the set'}",
                             fix="check the data path")
    return feats[:row], labels[:row]


def bf16_is_native(device: torch.device) -> bool:
    """Whether bf16 math runs natively here (so autocast speeds things up instead of emulating)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, long-lived torch.cpu helpers
    return device.type == "cpu" and any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    if bf16 and bf16_is_native(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _device_of(model: Callable) -> torch.device:
    if isinstance(model, nn.Module):
        param = next(model.parameters(), None)
        if param is not None:
            return param.device
    return torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: Callable, device: torch.device) -> Iterator[None]:
    """nn.Modules: moved to `device` and put in eval mode; the train/eval mode is restored after."""
    if not isinstance(model, nn.Module):
        yield
        return
    was_training = model.training
    model.to(device).eval()
    try:
        yield
    finally:
        model.train(was_training)


def _progress(loader: torch.utils.data.DataLoader, *, enabled: bool) -> Iterator:
    if not enabled or len(loader) < PROGRESS_MIN_BATCHES:
        yield from loader
        return
    with progress("extracting features (batches)", len(loader), transient=True) as advance:
        for batch in loader:
            yield batch
            advance(1)
