"""Detection on any backbone: torchvision's FCOS (Tian et al. 2019, "FCOS: Fully Convolutional
One-Stage Object Detection", arXiv:1904.01355) on an FPN over the backbone's `Pyramid`.

torchvision owns the losses (sigmoid focal, GIoU, centerness), the location-to-box assignment,
the box coder and NMS. headstart gives it the feature maps (one anchor per location, sized as the
level's stride, so FCOS's size ranges follow the backbone), a lighter head (`convs` GroupNorm
convs per branch instead of 4, `channels` wide), and images already at their final size and
normalized by the backbone (FCOS's own resize and normalization are identities here).

Box offsets go through a softplus before torchvision's ReLU (`box_activation="softplus"`, the
default): with the ReLU alone a side whose pre-activation turns negative at every location gets no
gradient again and the run ends with degenerate boxes (GIoU loss stuck at 1.0, mAP near 0; seen in
2 of 20 ImageNet-Lite0 cells of `bench/dense_gain.py`). Runs saved before keep their "relu".
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.ops import FeaturePyramidNetwork

from headstart.adapt.heads.features import Pyramid

SCORE_THRESHOLD = 0.05  # low, as COCO evaluation wants: AP integrates over every confidence
NMS_IOU = 0.6
MAX_DETECTIONS = 100
BOX_ACTIVATIONS = ("softplus", "relu")


class _SoftplusConv(nn.Conv2d):
    """FCOS's box-offset conv with a softplus on its output: positive like the ReLU torchvision
    applies after it (which then passes it unchanged), but with a gradient everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(super().forward(x))


def _softplus_offsets(head: FCOSHead) -> None:
    """Swap the regression head's `bbox_reg` for a `_SoftplusConv` with the same initial weights
    (the same parameter names, so saved state dicts load either way)."""
    old = head.regression_head.bbox_reg
    new = _SoftplusConv(old.in_channels, old.out_channels, kernel_size=old.kernel_size, stride=old.stride,
                        padding=old.padding)
    new.load_state_dict(old.state_dict())
    head.regression_head.bbox_reg = new


class _Trunk(nn.Module):
    """What FCOS calls its backbone: the pyramid (held, not owned) through an FPN -> named maps."""

    def __init__(self, pyramid: Pyramid, channels: int) -> None:
        super().__init__()
        self._pyramid = [pyramid]  # a list, so the backbone's parameters are not registered twice
        self.fpn = FeaturePyramidNetwork(pyramid.channels, channels)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = self._pyramid[0](x)
        return self.fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))


class DetectHead(nn.Module):
    """Float images `(B, C, S, S)` in [0, 1] -> FCOS losses (training, with targets) or detections."""

    def __init__(self, pyramid: Pyramid, num_classes: int, image_size: int, *, channels: int = 64,
                 convs: int = 2, box_activation: str = "softplus") -> None:
        super().__init__()
        if box_activation not in BOX_ACTIVATIONS:
            raise ValueError(f"box_activation must be one of {BOX_ACTIVATIONS}, got {box_activation!r}")
        self.box_activation = box_activation
        strides = pyramid.strides
        head = FCOSHead(channels, 1, num_classes, num_convs=convs)
        if box_activation == "softplus":
            _softplus_offsets(head)
        anchors = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
        self.fcos = FCOS(
            _Trunk(pyramid, channels), num_classes, min_size=image_size, max_size=image_size,
            image_mean=[0.0], image_std=[1.0], anchor_generator=anchors,
            head=head, score_thresh=SCORE_THRESHOLD,
            nms_thresh=NMS_IOU, detections_per_img=MAX_DETECTIONS,
        )

    def forward(self, x: torch.Tensor, targets: list[dict[str, torch.Tensor]] | None = None):
        """Training: `{"classification", "bbox_regression", "bbox_ctrness"}` losses; eval: per image
        `{"boxes" (n, 4) xyxy pixels, "scores" (n,), "labels" (n,)}`."""
        return self.fcos(list(x), targets)
