"""`export --format ultralytics`: a `.pt` that `ultralytics.YOLO(path)` / `RTDETR(path)` loads and trains from.

The file is an Ultralytics checkpoint as its own `strip_optimizer` writes one (a dict whose
"model" is the pickled `DetectionModel`, or `RTDETRDetectionModel` for an RT-DETR yaml, with
"train_args", "date", "version", ...), kept in float32 so the weights are the run's bit for bit: the
backbone's layers from the run, the neck and head freshly initialised from the yaml (seeded, so a run
always exports the same weights). `YOLO(path).train(data=...)` (`RTDETR(path).train(...)`, whose
`RTDETRTrainer` builds an `RTDETRDetectionModel`) rebuilds the detector for the data's classes and takes
every tensor whose shape fits, i.e. all but the class outputs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import torch

from headstart.errors import HeadstartError
from headstart.export.weights import backbone_state
from headstart.io import atomic_write
from headstart.models.backbone import Backbone
from headstart.models.family import split_name
from headstart.models.ultralytics_ import detection_model, import_ultralytics

EXPORT_SEED = 0


def ultralytics_model(name: str) -> str:
    """The yaml of an `ultralytics/<model>.yaml` name; any other model is refused."""
    family, model = split_name(name)
    if family != "ultralytics":
        raise HeadstartError(f"{name} is not an Ultralytics model",
                             fix="--format ultralytics exports runs of --model ultralytics/<model>.yaml; "
                             "use --format safetensors for this one")
    return model


def save_ultralytics(backbone: Backbone, out: Path, *, source: str, seed: int = EXPORT_SEED) -> None:
    """Write the detector of `backbone`'s yaml with its backbone's weights to `out` (a `.pt`).

    Args:
        backbone: an `ultralytics/<model>.yaml` backbone (from a run), YOLO or RT-DETR.
        out: the file to write; Ultralytics reads only `.pt`.
        source: what the weights came from (the run folder), kept in the file's "headstart" entry.
        seed: draws the fresh neck and head (in a forked RNG: the caller's is left as it was).
    """
    model = ultralytics_model(backbone.meta.name)
    if Path(out).suffix != ".pt":
        raise HeadstartError(f"Ultralytics loads only .pt files, not {Path(out).name}",
                             fix="pass --out NAME.pt")
    ultralytics = import_ultralytics("ultralytics")  # AGPL: only for this format

    with torch.random.fork_rng():  # the same run exports the same weights
        torch.manual_seed(seed)
        detector = detection_model(model)
    state = detector.state_dict()
    ours = {f"model.{k}": v for k, v in backbone_state(backbone).items()}
    state.update(ours)
    detector.load_state_dict(state)  # strict: every backbone tensor has its place in the detector
    detector.float().eval()
    ckpt = {
        "model": detector, "ema": None, "optimizer": None, "epoch": -1, "train_args": {},
        "date": datetime.now(timezone.utc).isoformat(), "version": ultralytics.__version__,
        "license": "AGPL-3.0 License (https://ultralytics.com/license)",
        "headstart": {"source": source, "model": backbone.meta.name, "backbone_tensors": len(ours)},
    }
    atomic_write(out, lambda f: torch.save(ckpt, f))
