"""Adaptation: a classification head on any backbone, trained with few labels by one of the
strategies in `headstart.adapt.strategies`; evaluation and prediction of the resulting runs.

    import headstart
    headstart.finetune(from_="runs/fm", data="fashion-mnist", labels="1%", strategy="lp-ft", out="runs/fm-ft")
    headstart.evaluate(run="runs/fm-ft", data="fashion-mnist")
    headstart.predict(run="runs/fm-ft", data="./images", out="preds.csv")
"""

from __future__ import annotations

from headstart.adapt.config import EvaluateConfig, FinetuneConfig, PredictConfig
from headstart.config import api_function


def _finetune(cfg: FinetuneConfig):
    from headstart.adapt.finetuning import run

    return run(cfg)


def _evaluate(cfg: EvaluateConfig) -> dict:
    from headstart.adapt.evaluation import run_evaluate

    return run_evaluate(cfg)


def _predict(cfg: PredictConfig):
    from headstart.adapt.prediction import run_predict

    return run_predict(cfg)


finetune = api_function(
    FinetuneConfig,
    _finetune,
    "finetune",
    "Fine-tune a classifier from a pretrained run, a weights file or scratch; returns a "
    "FinetuneResult (run folder, test accuracy, forgetting, ...).",
)
evaluate = api_function(
    EvaluateConfig,
    _evaluate,
    "evaluate",
    "kNN + linear probe of a pretraining run, or accuracy/per-class/confusion of a fine-tuned "
    "run; merged into the run's results.json and returned.",
)
predict = api_function(
    PredictConfig,
    _predict,
    "predict",
    "Predicted class, confidence and top classes of every image, written as CSV; returns its path.",
)

__all__ = ["EvaluateConfig", "FinetuneConfig", "PredictConfig", "evaluate", "finetune", "predict"]
