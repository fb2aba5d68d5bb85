"""Adapter for `hf:<folder>`: any local Hugging Face `transformers` checkpoint, as a text backbone.

Checking a name reads the folder's `config.json` only (no torch, no transformers), so a config
with a mistyped folder is refused while the options are read; nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from headstart.models.hf_folder import check_hf_folder

if TYPE_CHECKING:
    from headstart.models.backbone import Backbone


class HfFamily:
    def names(self) -> list[str]:
        return []  # models are folders

    def check(self, model: str) -> None:
        check_hf_folder(Path(model))

    def create(self, model: str, *, image_size: int | None) -> Backbone:
        from headstart.models.text import load_hf_backbone  # transformers: only once a model is built

        return load_hf_backbone(model)

    def plain_model(self, model: str, *, num_classes: int | None) -> None:
        return None  # the folder itself is the plain model: exports write save_pretrained folders

    def auto_image_size(self, side: int) -> int:
        return side  # text models take no images

    def modality(self, model: str) -> str:
        return "text"
