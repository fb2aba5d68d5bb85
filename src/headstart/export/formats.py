"""`headstart export`: a run's weights in the form other tools load as they are.

- `torchvision` / `timm`: a full state dict for the plain constructor, e.g.
  `torchvision.models.resnet18().load_state_dict(torch.load("r18.pt"))` (strict). The classifier
  is the run's fine-tuned head when it has one (construct with `num_classes=`), else the
  constructor's fresh initialisation.
- `safetensors`: the backbone's tensors (any model, built-ins included).
- `onnx`: the backbone with its input normalization, float images in [0, 1] -> features.
- `hf`: a text run's `save_pretrained` folder (model + tokenizer, `export/hf.py`).
- `ultralytics`: a `.pt` that `ultralytics.YOLO(path)` (`RTDETR(path)` for an RT-DETR yaml) trains
  from: the run's backbone in its detector, neck and head fresh from the yaml (`export/ultralytics.py`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from headstart.errors import HeadstartError
from headstart.export.hf import copy_hf_folder
from headstart.export.ultralytics import save_ultralytics, ultralytics_model
from headstart.export.weights import backbone_state, save_backbone
from headstart.io import atomic_write
from headstart.models.factory import load_run_backbone
from headstart.models.family import model_family, split_name
from headstart.run import Run

FORMATS = ("torchvision", "timm", "safetensors", "onnx", "hf", "ultralytics")


def export_run(run: Run, fmt: str, out: Path) -> Path:
    if fmt not in FORMATS:
        raise HeadstartError(f"unknown export format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    if fmt == "hf":
        return copy_hf_folder(run, out)
    name = run.model_name
    if fmt == "ultralytics":
        ultralytics_model(name)  # refused before a model is built
    backbone = load_run_backbone(run).eval()
    if fmt == "safetensors":
        save_backbone(backbone, out, name)
    elif fmt == "onnx":
        export_onnx(backbone, out)
    elif fmt == "ultralytics":
        save_ultralytics(backbone, out, source=str(run.path))
    else:
        prefix = split_name(name)[0]
        if prefix != fmt:  # the format is the library whose constructor loads the file
            raise HeadstartError(f"{name} is not a {fmt} model",
                                 fix=f"use --format {prefix if prefix in FORMATS else 'safetensors'}")
        state = plain_state_dict(backbone, _head_tensors(run))
        atomic_write(out, lambda f: torch.save(state, f))
    return out


def plain_state_dict(backbone, head: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Backbone tensors plus a classifier, under the names the library constructor uses."""
    adapter, model = model_family(backbone.meta.name)
    plain = adapter.plain_model(model, num_classes=head["weight"].shape[0] if head else None)
    state = plain.state_dict()
    state.update(backbone_state(backbone))
    if head:
        prefix = backbone.meta.head_name
        state[f"{prefix}.weight"], state[f"{prefix}.bias"] = head["weight"], head["bias"]
    plain.load_state_dict(state)  # strict: proves the file loads into the plain model
    return state


def _head_tensors(run: Run) -> dict[str, torch.Tensor]:
    """The fine-tuned classifier's weight and bias (named by the file's `head` metadata), or {}."""
    if not run.model_file.is_file():
        return {}
    with safe_open(str(run.model_file), framework="pt") as f:
        name = (f.metadata() or {}).get("head", "head")
        return {part: f.get_tensor(f"{name}.{part}") for part in ("weight", "bias")
                if f"{name}.{part}" in f.keys()}  # noqa: SIM118 - safe_open has no __iter__


def export_onnx(backbone, out: Path) -> None:
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
    except ModuleNotFoundError:
        raise HeadstartError("ONNX export needs the onnx package", fix="pip install onnx") from None
    size = backbone.meta.default_size
    x = torch.rand(1, backbone.meta.in_chans, size, size)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.onnx.export(backbone, (x,), str(tmp), input_names=["images"], output_names=["features"],
                      dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "features": {0: "batch"}},
                      dynamo=False)
    tmp.replace(out)
