"""Weights loadable without headstart (torchvision, timm, safetensors, ONNX) and embeddings."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from headstart.config import api_function
from headstart.export.config import EmbedConfig, ExportConfig


def run_embed(cfg: EmbedConfig) -> list[Path]:
    from headstart.data.sources import open_data
    from headstart.eval.features import extract_features
    from headstart.export.embeddings import write_embeddings
    from headstart.models import load_run_backbone, run_image_size

    size = cfg.image_size or run_image_size(cfg.run)
    backbone = load_run_backbone(cfg.run, image_size=size).eval()
    data = open_data(cfg.data, on_bad_image=cfg.on_bad_image, load_size=size)
    feats, _ = extract_features(backbone, data.with_format(size=size, channels=data.channels),
                                batch_size=cfg.batch_size, progress=cfg.progress)
    return write_embeddings(feats.numpy(), data, cfg.out, cfg.format)


def run_export(cfg: ExportConfig) -> Path:
    from headstart.export.formats import export_run

    return export_run(cfg.run, cfg.format, cfg.out)


embed = api_function(EmbedConfig, run_embed, "embed", "Embed images with a run's backbone; returns the files written.")
export = api_function(ExportConfig, run_export, "export", "Export a run's weights; returns the file written.")


class _CallableModule(types.ModuleType):
    """`headstart.export` names both this package and the API function: importing a submodule
    rebinds the package attribute, so the package itself calls through to `export`."""

    def __call__(self, **kwargs):
        return export(**kwargs)


sys.modules[__name__].__class__ = _CallableModule
__signature__ = export.__signature__
