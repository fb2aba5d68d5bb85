"""Predictions of a `DenseModel` over a `DenseSet`, batch by batch, without gradients, and the
metrics that compare them with the set's own boxes or label maps."""

from __future__ import annotations

import torch

from headstart.adapt.dense_model import DenseModel
from headstart.data.dense.dataset import DenseSet, collate_dense
from headstart.data.views.ops import to_float
from headstart.eval.dense import confusion, detection_map, iou_report


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
