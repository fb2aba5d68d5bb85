"""Options of `headstart explore` (no torch imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from headstart.config import Config

LOCALHOST = "127.0.0.1"


class ExploreConfig(Config):
    """`headstart explore`: a local web page over a run's embeddings of `--data`."""

    run: Path = Field(description="a headstart run folder whose backbone embeds the images")
    data: str = Field(description="the images: folder, IDX file, or fashion-mnist[:split]")
    labels: Path | None = Field(
        None, description="CSV with path,label columns; unset: the labels the data carries")
    predictions: Path | None = Field(
        None, description="a fine-tuned run: colour by its predictions, correctness and uncertainty")
    port: int = Field(8765, ge=1, le=65535, description="port of the local web server")
    host: str = Field(LOCALHOST, description="address to bind; anything but 127.0.0.1 exposes the page")
    projection: Literal["pca", "umap"] = Field(
        "pca", description="2-D map: pca (fast) or umap (needs umap-learn)")
    static: Path | None = Field(
        None, description="write one self-contained HTML file here instead of serving")
    browser: bool = Field(True, description="open the page in a web browser")
    clusters: int = Field(10, ge=1, description="k-means clusters to colour by")
    batch_size: int = Field(512, ge=1, description="images per forward pass")
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop")
    progress: bool = Field(True, description="show a progress bar")
