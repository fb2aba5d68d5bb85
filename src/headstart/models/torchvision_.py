"""Adapter for `torchvision/<name>` classification models (weights never downloaded)."""

from __future__ import annotations

import torchvision
from torch import nn

from headstart.models.backbone import Backbone, BackboneMeta, children_groups
from headstart.models.family import check_listed


class TorchvisionFamily:
    def names(self) -> list[str]:
        return sorted(torchvision.models.list_models(module=torchvision.models))

    def check(self, model: str) -> None:
        check_listed("torchvision", model, self.names())

    def create(self, model: str, *, image_size: int | None) -> Backbone:
        return create(model)

    def plain_model(self, model: str, *, num_classes: int | None) -> nn.Module:
        return torchvision.models.get_model(model, weights=None, **({"num_classes": num_classes} if num_classes is not None else {}))

    def auto_image_size(self, side: int) -> int:
        return min(224, max(32, side))  # the strides of library nets need at least 32 px

    def modality(self, model: str) -> str:
        return "image"


def _pop_classifier(m: nn.Module) -> tuple[str, int]:
    """Replace the final Linear (fc / classifier / heads) by Identity; return its name and width."""
    for attr in ("fc", "classifier", "heads", "head"):
        head = getattr(m, attr, None)
        if head is None:
            continue
        linears = [x for x in head.modules() if isinstance(x, nn.Linear)] if isinstance(head, nn.Module) else []
        if linears:
            dim = linears[0].in_features if isinstance(head, nn.Linear) else linears[-1].in_features
            if isinstance(head, nn.Sequential) and not isinstance(head[-1], nn.Linear):
                break
            if isinstance(head, nn.Sequential):
                head[-1] = nn.Identity()  # keep dropout/norm layers before the last Linear
                return f"{attr}.{len(head) - 1}", dim
            setattr(m, attr, nn.Identity())
            return attr, dim
    raise ValueError(f"cannot find the classifier of torchvision model {type(m).__name__}")


def create(name: str) -> Backbone:
    m = torchvision.models.get_model(name, weights=None)
    head_name, dim = _pop_classifier(m)
    meta = BackboneMeta(f"torchvision/{name}", "torchvision", dim, head_name=head_name, default_size=224)
    return Backbone(m, meta, _groups)


def _groups(m: nn.Module) -> list[list[nn.Module]]:
    if hasattr(m, "layer1"):  # resnet family: stem, layer1..4
        stem = [c for n, c in m.named_children() if not n.startswith("layer") and n not in ("avgpool", "fc")]
        return [stem] + [[getattr(m, f"layer{i}")] for i in range(1, 5) if hasattr(m, f"layer{i}")]
    if hasattr(m, "features"):  # features is a Sequential of stages
        return [[c] for c in m.features.children()]
    return children_groups(m)
