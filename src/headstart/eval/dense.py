"""Detection and segmentation metrics (pure functions over predictions and ground truth).

Detection: COCO-style average precision (101-point interpolated precision, greedy matching by
score, Lin et al. 2014, "Microsoft COCO: Common Objects in Context", arXiv:1405.0312) by
torchmetrics' `MeanAveragePrecision` over `pycocotools`: mAP@0.5 and mAP@[0.5:0.95] overall and
per class. A class with no ground truth in the set has no AP (None), as in COCO.

Segmentation: a confusion matrix over pixels (255 ignored), IoU per class = TP / (TP + FP + FN),
mIoU = the mean over classes that occur in the ground truth or the predictions.
"""

from __future__ import annotations

import torch
from torchmetrics.detection import MeanAveragePrecision

from headstart.data.dense.dataset import IGNORE

Detections = list[dict[str, torch.Tensor]]  # per image: boxes (n, 4) xyxy, scores (n,), labels (n,)


def _ap(preds: Detections, targets: Detections, thresholds: list[float] | None) -> dict[str, torch.Tensor]:
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", iou_thresholds=thresholds,
                                  class_metrics=True, backend="pycocotools", max_detection_thresholds=[1, 10, 100])
    metric.update([{k: p[k].detach().cpu().float() if k != "labels" else p[k].cpu().long()
                    for k in ("boxes", "scores", "labels")} for p in preds],
                  [{"boxes": t["boxes"].cpu().float(), "labels": t["labels"].cpu().long()} for t in targets])
    return metric.compute()


def _per_class(out: dict[str, torch.Tensor], n: int) -> list[float | None]:
    values: list[float | None] = [None] * n
    for c, v in zip(out["classes"].reshape(-1).tolist(), out["map_per_class"].reshape(-1).tolist(), strict=True):
        if 0 <= c < n and v >= 0:  # -1: the class has no ground truth here
            values[c] = v
    return values


def detection_map(preds: Detections, targets: Detections, classes: list[str]) -> dict:
    """mAP@0.5, mAP@[0.5:0.95] and both per class.

    Args:
        preds: per image `boxes` (n, 4) xyxy, `scores` (n,), `labels` (n,) class indices.
        targets: per image `boxes` and `labels`.
        classes: class names, indexed by the labels.

    Returns:
        `{"map50", "map", "per_class": {name: {"ap50", "ap"}}}` (None where a class has no ground truth).

    Example:
        >>> detection_map([{"boxes": b, "scores": s, "labels": l}], [{"boxes": b, "labels": l}], ["cat"])["map50"]
        1.0
    """
    if not any(len(t["labels"]) for t in targets):
        return {"map50": None, "map": None, "per_class": {c: {"ap50": None, "ap": None} for c in classes}}
    full, at50 = _ap(preds, targets, None), _ap(preds, targets, [0.5])
    ap, ap50 = _per_class(full, len(classes)), _per_class(at50, len(classes))
    return {"map50": float(at50["map"]), "map": float(full["map"]),
            "per_class": {c: {"ap50": a50, "ap": a} for c, a50, a in zip(classes, ap50, ap, strict=True)}}


def confusion(pred: torch.Tensor, true: torch.Tensor, num_classes: int) -> torch.Tensor:
    """int64 `(K, K)` pixel counts, rows = true class, columns = predicted; true 255 pixels skipped."""
    keep = true != IGNORE
    t, p = true[keep].long(), pred[keep].long().clamp(0, num_classes - 1)
    return torch.bincount(t * num_classes + p, minlength=num_classes * num_classes).view(num_classes, num_classes)


def iou_report(matrix: torch.Tensor, classes: list[str]) -> dict:
    """`{"miou", "per_class_iou": {name: iou | None}, "pixel_accuracy"}` from a confusion matrix.

    Example:
        >>> iou_report(torch.tensor([[3, 1], [0, 4]]), ["bg", "cat"])["per_class_iou"]
        {'bg': 0.75, 'cat': 0.8}
    """
    m = matrix.double()
    tp = m.diag()
    union = m.sum(0) + m.sum(1) - tp
    ious = [float(tp[i] / union[i]) if union[i] > 0 else None for i in range(len(classes))]
    present = [v for v in ious if v is not None]
    total = float(m.sum())
    return {"miou": sum(present) / len(present) if present else None,
            "per_class_iou": dict(zip(classes, ious, strict=True)),
            "pixel_accuracy": float(tp.sum()) / total if total else None}
