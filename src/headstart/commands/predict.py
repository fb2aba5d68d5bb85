"""`headstart predict`: the fine-tuned classifier's top classes for every image, as CSV.

path,prediction,confidence,top3
shoes/001.png,Sneaker,0.9412,Sneaker:0.9412|Sandal:0.0391|Ankle boot:0.0102
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from headstart.adapt.config import PredictConfig
from headstart.adapt.dense_model import run_task
from headstart.adapt.head import load_classifier
from headstart.adapt.infer import predict_probs
from headstart.commands.dense_eval import predict_files
from headstart.config import api_function
from headstart.data.sources import open_data
from headstart.io import write_text
from headstart.run import Run


def run(cfg: PredictConfig) -> Path:
    if run_task(Run(cfg.run)) != "classify":
        return predict_files(cfg)
    model, size = load_classifier(Run(cfg.run))
    data = open_data(
        cfg.data,
        split="test" if cfg.data.endswith(":test") else "train",
        on_bad_image=cfg.on_bad_image,
        load_size=size,
    )
    probs = predict_probs(model, data, image_size=size, batch_size=cfg.batch_size, progress=cfg.progress)
    write_text(cfg.out, predictions_csv(data.paths, probs, model.classes, cfg.top))
    return cfg.out


def predictions_csv(paths: list[str], probs: torch.Tensor, classes: list[str], top: int = 3) -> str:
    """One row per image: path, predicted class, its probability, and the top classes with theirs."""
    top = min(top, len(classes))
    conf, idx = probs.topk(top, dim=1)  # (N, top)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "prediction", "confidence", f"top{top}"])
    for path, c, i in zip(paths, conf.tolist(), idx.tolist(), strict=True):
        ranked = "|".join(f"{classes[j]}:{p:.4f}" for j, p in zip(i, c, strict=True))
        writer.writerow([path, classes[i[0]], f"{c[0]:.4f}", ranked])
    return buf.getvalue()


predict = api_function(
    PredictConfig,
    run,
    "predict",
    "Predicted class, confidence and top classes of every image, written as CSV; returns its path.",
)
