"""`headstart embed`: a run's backbone features of every image -> embeddings.npy + index.csv.

    headstart.embed(run="runs/fm", data="./images", out="embeddings/")
"""

from __future__ import annotations

from pathlib import Path

from headstart.commands._embeddings import share_with_cache
from headstart.commands._text_eval import embed_text
from headstart.config import api_function
from headstart.data.sources import open_data
from headstart.eval.features import extract_features
from headstart.export.config import EmbedConfig
from headstart.export.embeddings import write_embeddings
from headstart.models.factory import load_run_backbone
from headstart.models.family import model_modality
from headstart.run import Run


def run(cfg: EmbedConfig) -> list[Path]:
    folder = Run.read(cfg.run)
    if model_modality(folder.model_name) == "text":
        return embed_text(cfg, folder)
    size = cfg.image_size or folder.image_size
    backbone = load_run_backbone(folder, image_size=size).eval()
    data = open_data(cfg.data, on_bad_image=cfg.on_bad_image, load_size=size)
    feats, _ = extract_features(backbone, data.with_format(size=size, channels=data.channels),
                                batch_size=cfg.batch_size, progress=cfg.progress)
    written = write_embeddings(feats.numpy(), data, cfg.out, cfg.format)
    if size == folder.image_size and cfg.format in ("npy", "all"):
        share_with_cache(folder, cfg.data, data, Path(cfg.out))
    return written


embed = api_function(EmbedConfig, run, "embed", "Embed images with a run's backbone; returns the files written.")
