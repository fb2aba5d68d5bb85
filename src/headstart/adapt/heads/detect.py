"""Detection on any backbone: torchvision's FCOS (Tian et al. 2019, "FCOS: Fully Convolutional
One-Stage Object Detection", arXiv:1904.01355) on an FPN over the backbone's `Pyramid`.

torchvision owns the losses (sigmoid focal, GIoU, centerness), the location-to-box assignment,
the box coder and NMS. headstart gives it the feature maps (one anchor per location, sized as the
level's stride, so FCOS's size ranges follow the backbone), a lighter head (`convs` GroupNorm
convs per branch instead of 4, `channels` wide), and images already at their final size and
normalized by the backbone (FCOS's own resize and normalization are identities here).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.ops import FeaturePyramidNetwork

from headstart.adapt.heads.features import Pyramid

SCORE_THRESHOLD = 0.05  # low, as COCO evaluation wants: AP integrates over every confidence
NMS_IOU = 0.6
MAX_DETECTIONS = 100


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
                 convs: int = 2) -> None:
        super().__init__()
        strides = pyramid.strides
        anchors = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
        self.fcos = FCOS(
            _Trunk(pyramid, channels), num_classes, min_size=image_size, max_size=image_size,
            image_mean=[0.0], image_std=[1.0], anchor_generator=anchors,
            head=FCOSHead(channels, 1, num_classes, num_convs=convs), score_thresh=SCORE_THRESHOLD,
            nms_thresh=NMS_IOU, detections_per_img=MAX_DETECTIONS,
        )

    def forward(self, x: torch.Tensor, targets: list[dict[str, torch.Tensor]] | None = None):
        """Training: `{"classification", "bbox_regression", "bbox_ctrness"}` losses; eval: per image
        `{"boxes" (n, 4) xyxy pixels, "scores" (n,), "labels" (n,)}`."""
        return self.fcos(list(x), targets)
