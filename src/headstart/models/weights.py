"""Load backbone weights from a local file or run folder (never from a hub).

Accepted: `.safetensors`, `.pt`/`.pth`/`.bin` (a state dict, or a dict with `state_dict`/`model`),
a Lightning `.ckpt` from headstart, or a headstart run folder (its `exported/backbone.safetensors`).
Keys are matched after stripping wrapper prefixes; a file whose tensors are named differently
but line up one-to-one in order and shape (e.g. the EfficientNet-Lite0 `.pth` from PyPI for
`timm/efficientnet_lite0`) is mapped by position.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from headstart.errors import HeadstartError

PREFIXES = ("module.", "model.", "backbone.module.", "backbone.", "_orig_mod.", "student.backbone.module.")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if path.is_dir():
        exported = path / "exported" / "backbone.safetensors"
        if not exported.is_file():
            raise HeadstartError(f"{path} is not a finished headstart run (no {exported.relative_to(path)})",
                                 fix="pass a run folder whose pretraining finished, or a weights file")
        path = exported
    if not path.is_file():
        raise HeadstartError(f"weights file not found: {path}", fix="pass an existing .safetensors/.pt/.pth/.ckpt file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any decode failure is the same user error
        raise HeadstartError(f"cannot read weights {path}: {type(err).__name__}: {err}",
                             fix="pass a state dict saved with torch.save or safetensors") from None
    for key in ("state_dict", "model", "backbone"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise HeadstartError(f"{path} does not hold a state dict of tensors", fix="save model.state_dict()")
    return obj


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def match_state_dict(target: nn.Module, source: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """Source tensors renamed to `target`'s keys: by name after prefix stripping, else by position."""
    want = target.state_dict()
    by_name = {_strip(k): v for k, v in source.items()}
    if "backbone.module" in " ".join(source)[:2000]:  # a headstart Lightning checkpoint: keep only the backbone
        by_name = {k[len("backbone.module."):]: v for k, v in source.items() if k.startswith("backbone.module.")}
    hits = {k: v for k, v in by_name.items() if k in want and v.shape == want[k].shape}
    if len(hits) >= 0.9 * _count_weights(want):
        return hits
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in want.items() if not k.endswith("num_batches_tracked")]
    if len(src) >= len(dst) and all(s.shape == d.shape for (_, s), (_, d) in zip(src, dst)):
        return {dk: sv for (dk, _), (_, sv) in zip(dst, src)}
    missing = [k for k in want if k not in hits and not k.endswith("num_batches_tracked")]
    raise HeadstartError(
        f"weights in {where} do not fit this model: {len(missing)} of {len(want)} tensors missing or mis-shaped "
        f"(first: {missing[:3]})",
        fix="pass --model matching the model the weights were saved from",
    )


def _count_weights(sd: dict[str, torch.Tensor]) -> int:
    return sum(1 for k in sd if not k.endswith("num_batches_tracked"))


def load_weights(module: nn.Module, path: Path | str) -> None:
    """Load local weights into `module` (a backbone's plain model), ignoring classifier tensors."""
    matched = match_state_dict(module, read_state_dict(Path(path)), str(path))
    module.load_state_dict(matched, strict=False)
