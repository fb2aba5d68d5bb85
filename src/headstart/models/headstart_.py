"""Adapter for `headstart/<name>`: the built-in nets of `models/builtin.py`, sized for a CPU and
28-64 px images. Their names are listed here so that checking one needs no torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headstart.models.family import check_listed

if TYPE_CHECKING:
    from headstart.models.backbone import Backbone

NETS = ("resnet-mini", "vit-tiny")  # the keys of builtin.BUILTIN (a test holds them equal)
TEXT_NETS = ("bert-mini", "gpt-mini")  # the keys of text.TEXT_NETS: transformers models built from configs


class HeadstartFamily:
    def names(self) -> list[str]:
        return sorted(NETS + TEXT_NETS)

    def check(self, model: str) -> None:
        check_listed("headstart", model, self.names())

    def create(self, model: str, *, image_size: int | None) -> Backbone:
        if model in TEXT_NETS:
            from headstart.models.text import create_text_backbone  # transformers: only for a text net

            return create_text_backbone(f"headstart/{model}")
        from headstart.models.builtin import BUILTIN  # torch: only once a net is built

        return BUILTIN[model](img_size=image_size) if model.startswith("vit") and image_size else BUILTIN[model]()

    def plain_model(self, model: str, *, num_classes: int | None) -> None:
        return None  # built-ins have no constructor outside headstart: export them as safetensors

    def auto_image_size(self, side: int) -> int:
        return side  # the nets take any side; small images stay small

    def modality(self, model: str) -> str:
        return "text" if model in TEXT_NETS else "image"
