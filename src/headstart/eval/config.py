"""Options of `headstart bias` (no torch imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from headstart.config import Config


class BiasConfig(Config):
    """`headstart bias`: where a fine-tuned classifier fails, per class and per group, and its calibration."""

    run: Path = Field(description="a fine-tuned headstart run folder")
    data: str = Field(description="labeled images (its test split when it has one): class sub-folders, IDX, "
                      "or fashion-mnist")
    groups: Path | None = Field(
        None, description="CSV: a path column and one column per attribute (site, camera, ...) naming each "
                          "image's group")
    baseline: Path | None = Field(
        None, description="another fine-tuned run (e.g. from scratch) compared image by image")
    margin: float = Field(
        0.05, ge=0, le=1, description="flag a class or group whose accuracy falls this far below the others")
    bins: int = Field(15, ge=2, le=100, description="confidence bins of the calibration error")
    out: Path | None = Field(None, description="folder for bias.html and its plots; unset: the run folder")
    batch_size: int = Field(256, ge=1, description="images per forward pass")
    seed: int = Field(0, description="seed of the bootstrap")
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop")
    progress: bool = Field(True, description="show a progress bar")
