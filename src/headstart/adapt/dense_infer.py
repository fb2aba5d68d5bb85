"""Predictions of a `DenseModel` over a `DenseSet`, batch by batch, without gradients, and the
metrics that compare them with the set's own boxes or label maps."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from headstart.adapt.dense_model import DenseModel
from headstart.data.dense.dataset import DenseSet, collate_dense
from headstart.data.views.ops import to_float
from headstart.eval.dense import confusion, detection_map, iou_report

DRAW_SCORE = 0.3  # boxes drawn from this score up


@torch.no_grad()
def predict_dense(model: DenseModel, data: DenseSet, *, batch_size: int = 32,
                  device: torch.device | str = "cpu") -> list[dict[str, torch.Tensor]] | torch.Tensor:
    """Detections per image (`boxes` xyxy in the stored image's pixels, `scores`, `labels`; CPU) for a
    detector; uint8 label maps `(N, S, S)` for a segmenter."""
    was = model.training
    model.eval().to(device)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate_dense)
    out: list = []
    try:
        for batch in loader:
            x = to_float(batch.images.to(device), model.image_size)  # (B, C, S, S) in [0, 1]
            if model.task == "detect":
                out += [{k: v.cpu() for k, v in d.items()} for d in model(x)]
            else:
                out.append(model(x).argmax(1).to(torch.uint8).cpu())  # (B, S, S)
    finally:
        model.train(was)
    if model.task == "detect":
        return out
    return torch.cat(out) if out else torch.zeros(0, model.image_size, model.image_size, dtype=torch.uint8)


def score_dense(model: DenseModel, data: DenseSet, *, batch_size: int = 32, device: torch.device | str = "cpu",
                prefix: str = "") -> dict:
    """mAP@0.5, mAP@[0.5:0.95] and per-class AP (detect), or mIoU and per-class IoU (segment), keys
    prefixed by `prefix` (e.g. "val_")."""
    preds = predict_dense(model, data, batch_size=batch_size, device=device)
    if model.task == "detect":
        scale = data.size / model.image_size  # boxes back to the set's stored pixels
        preds = [{**p, "boxes": p["boxes"] * scale} for p in preds]
        targets = [{"boxes": b, "labels": lab} for b, lab in zip(data.boxes, data.labels, strict=True)]
        out = detection_map(preds, targets, model.classes)
        return {f"{prefix}map50": out["map50"], f"{prefix}map": out["map"], f"{prefix}per_class_ap": out["per_class"]}
    assert data.masks is not None
    if preds.shape[-1] != data.size:
        preds = torch.nn.functional.interpolate(preds[:, None].float(), size=data.masks.shape[-2:],
                                                mode="nearest")[:, 0].to(torch.uint8)
    out = iou_report(confusion(preds, data.masks, len(model.classes)), model.classes)
    return {f"{prefix}miou": out["miou"], f"{prefix}per_class_iou": out["per_class_iou"],
            f"{prefix}pixel_accuracy": out["pixel_accuracy"]}


def boxes_entries(model: DenseModel, det: dict[str, torch.Tensor], hw: tuple[int, int]) -> list[dict]:
    h, w = hw
    s = model.image_size
    boxes = det["boxes"] * torch.tensor([w / s, h / s, w / s, h / s])  # back to the image's own pixels
    return [{"category_id": int(c) + 1, "category": model.classes[int(c)], "score": round(float(p), 4),
             "bbox": [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]}
            for (x0, y0, x1, y1), p, c in zip(boxes.tolist(), det["scores"], det["labels"], strict=True)]


def full_size_map(label_map: torch.Tensor, hw: tuple[int, int]) -> np.ndarray:
    return F.interpolate(label_map[None, None].float(), size=hw, mode="nearest")[0, 0].to(torch.uint8).numpy()


def draw_prediction(model: DenseModel, image: torch.Tensor, pred: dict[str, torch.Tensor] | torch.Tensor, *,
                    scale: int = 1) -> torch.Tensor:
    """`image` (uint8 RGB `(3, h, w)`, its own size) with the prediction for it drawn: boxes with score
    >= DRAW_SCORE labelled with class and score, or the label map's classes as coloured masks;
    `scale` enlarges the picture first (nearest), so labels on small images stay readable."""
    hw = tuple(image.shape[-2:])
    if scale > 1:
        image = F.interpolate(image[None].float(), scale_factor=scale, mode="nearest")[0].to(torch.uint8)
    if model.task == "detect":
        keep = [e for e in boxes_entries(model, pred, hw) if e["score"] >= DRAW_SCORE]
        if not keep:
            return image
        boxes = torch.tensor([[x, y, x + bw, y + bh] for x, y, bw, bh in (e["bbox"] for e in keep)])
        return draw_bounding_boxes(image, boxes * scale, labels=[f"{e['category']} {e['score']:.2f}" for e in keep],
                                   colors="red", width=1)
    full = torch.from_numpy(full_size_map(pred, tuple(image.shape[-2:])))
    present = [c for c in torch.unique(full).tolist() if c != 0]
    return draw_segmentation_masks(image, torch.stack([full == c for c in present]), alpha=0.5) if present else image
