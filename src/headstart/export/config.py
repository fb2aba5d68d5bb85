"""Options of `headstart embed` and `headstart export`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from headstart.config import Config


class EmbedConfig(Config):
    """`headstart embed`: features of every image from a run's backbone."""

    run: Path = Field(description="a headstart run folder (pretrain or finetune)")
    data: str = Field(description="images to embed: folder, IDX file, or fashion-mnist[:split]")
    out: Path = Field(description="output folder for embeddings.npy + index.csv")
    format: Literal["npy", "csv", "parquet", "all"] = Field("npy", description="embedding file format")
    batch_size: int = Field(512, ge=1, description="images per forward pass")
    image_size: int | None = Field(None, description="input side; unset: the run's")
    on_bad_image: Literal["skip", "fail"] = Field("skip", description="skip unreadable images with a warning, or stop")
    progress: bool = Field(True, description="show a progress bar")


class ExportConfig(Config):
    """`headstart export`: weights loadable without headstart."""

    run: Path = Field(description="a headstart run folder")
    format: Literal["torchvision", "timm", "safetensors", "onnx", "hf", "ultralytics"] = Field(
        "safetensors", description="torchvision/timm: state dict for the plain constructor; hf: a text run's "
        "save_pretrained folder with its tokenizer (transformers' Auto* classes load it); ultralytics: a .pt "
        "that ultralytics.YOLO() (RTDETR() for an RT-DETR yaml) loads and trains from (runs of ultralytics/<model>.yaml)")
    out: Path = Field(description="output file (a folder for hf)")
