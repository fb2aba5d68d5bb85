"""Model families: one adapter per model library behind `ModelFamily`, one registry line each.

    FAMILIES.register("timm", "headstart.models.timm_:TimmFamily")

A model name is `<family>/<name>` (`timm/resnet18`) or, for a family whose models are folders,
`<family>:<path>` (`hf:./my-bert`): the family is the text before the first `/` or `:`. An
adapter is imported when its family is first named, so checking a `headstart/...` name never
imports timm or torchvision (nor torch: this module and the registry stay light).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Annotated, Protocol

from pydantic import AfterValidator

from headstart.errors import HeadstartError, did_you_mean
from headstart.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from headstart.models.backbone import Backbone


class ModelFamily(Protocol):
    """What headstart needs from a model library."""

    def names(self) -> list[str]:
        """The models it builds, without the family prefix ([] when models are paths)."""

    def check(self, model: str) -> None:
        """Raise `HeadstartError` naming the closest valid names when `model` is not one of the family's."""

    def create(self, model: str, *, image_size: int | None) -> Backbone:
        """A `Backbone` with fresh weights (never downloaded), built for `image_size` where that matters."""

    def plain_model(self, model: str, *, num_classes: int | None) -> nn.Module | None:
        """The library's own constructor's model (fresh weights, `num_classes` outputs when given):
        exports must load into it. None when the family has no constructor outside headstart."""

    def auto_image_size(self, side: int) -> int:
        """The input side for data whose images are `side` px, when the user leaves it to us."""

    def modality(self, model: str) -> str:
        """What the model reads: "image" or "text" (the commands open the data and pick the
        pipeline by it)."""


FAMILIES: Registry[str] = Registry("model family")
FAMILIES.register("headstart", "headstart.models.headstart_:HeadstartFamily")
FAMILIES.register("torchvision", "headstart.models.torchvision_:TorchvisionFamily")
FAMILIES.register("timm", "headstart.models.timm_:TimmFamily")
FAMILIES.register("hf", "headstart.models.hf_:HfFamily")
FAMILIES.register("ultralytics", "headstart.models.ultralytics_:UltralyticsFamily")  # optional extra (AGPL)


def split_name(name: str) -> tuple[str, str]:
    """`"timm/resnet18"` -> ("timm", "resnet18"); `"hf:./bert"` -> ("hf", "./bert"); no family -> ("", name)."""
    cuts = [i for i in (name.find("/"), name.find(":")) if i > 0]
    return (name[: min(cuts)], name[min(cuts) + 1 :]) if cuts else ("", name)


def get_family(name: str) -> ModelFamily:
    """The adapter registered as `name` (imported on first use)."""
    module, _, attr = FAMILIES.get(name).partition(":")
    return getattr(importlib.import_module(module), attr)()


def model_family(name: str) -> tuple[ModelFamily, str]:
    """The adapter of a model name and the name within its family; an unknown family is an error
    that suggests the full built-in name (`resnet-mini` -> `headstart/resnet-mini`)."""
    prefix, model = split_name(name)
    if prefix not in FAMILIES:
        builtin = [f"headstart/{n}" for n in get_family("headstart").names()]
        raise HeadstartError(f"unknown model {name!r}",
                             fix=did_you_mean(name, builtin).split("valid:")[0]
                             + f"use <package>/<name> with package one of {', '.join(FAMILIES)}; "
                             "`headstart list-models` lists them")
    return get_family(prefix), model


def model_modality(name: str) -> str:
    """"image" or "text": what the model `name` reads, said by its family."""
    adapter, model = model_family(name)
    return adapter.modality(model)


def check_model_name(name: str) -> str:
    """`name` when its family builds it, else a `HeadstartError` with the closest full names."""
    adapter, model = model_family(name)
    adapter.check(model)
    return name


def check_listed(prefix: str, model: str, names: list[str]) -> None:
    """The `check` of a family whose models are a list of names."""
    if model not in names:
        full = f"{prefix}/{model}"
        raise HeadstartError(f"unknown model {full!r}",
                             fix=did_you_mean(full, [f"{prefix}/{n}" for n in names])[:400])


def _check_unless_auto(name: str) -> str:
    return name if name == "auto" else check_model_name(name)


# Config field types: a mistyped name is refused while the options are read, before any model
# library (or torch) is imported. The check raises `HeadstartError` itself, so pydantic passes it on.
ModelName = Annotated[str, AfterValidator(check_model_name)]
ModelNameOrAuto = Annotated[str, AfterValidator(_check_unless_auto)]  # "auto": the command resolves it
