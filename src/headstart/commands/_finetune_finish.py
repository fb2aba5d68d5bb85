"""After fine-tuning: merge adapters, blend (WiSE-FT), measure (validation, test, forgetting),
export plain weights and write `results.json`."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits
from headstart.adapt.head import Classifier, save_classifier
from headstart.adapt.infer import default_device, predict_probs
from headstart.adapt.strategies.base import Strategy, count_params
from headstart.adapt.wise import apply_blend, backbone_state, sweep_blend
from headstart.errors import HeadstartError
from headstart.eval.forgetting import forgetting, forgetting_sets
from headstart.eval.metrics import classification_report
from headstart.export.weights import save_backbone
from headstart.run import Run
from headstart.train.distributed import is_rank_zero

log = logging.getLogger("headstart")


@dataclass
class FinetuneResult:
    run: Path
    strategy: str
    accuracy: float | None  # on the test split, when there is one
    val_accuracy: float
    trainable_share: float
    forgetting: dict | None
    steps: int
    seconds: float


def finish(
    cfg: FinetuneConfig,
    rundir: Run,
    model: Classifier,
    strategy: Strategy,
    start_state: dict[str, torch.Tensor],
    data: LabeledSplits,
    *,
    seconds: float,
    self_training: list[dict] | None = None,
    semi: dict | None = None,
    forgetting_of: Callable[..., dict | None] | None = None,
) -> FinetuneResult:
    """Merge, blend, measure and export; `forgetting_of(cfg, model, start, tuned, device)` measures
    forgetting (default: `measure_forgetting`, kNN on the pretraining data)."""
    t0 = time.perf_counter()
    model = model.cpu().to(memory_format=torch.contiguous_format)
    trainable, total = count_params(model)
    strategy.finish(model)  # LoRA: merged into plain weights
    device = default_device(cfg.accelerator)
    size = int(cfg.image_size)
    results: dict = {
        "strategy": cfg.strategy,
        "model": cfg.model,
        "from": cfg.from_,
        "classes": data.classes,
        "train_labels": len(data.train),
        "val_labels": len(data.val),
        "steps": cfg.steps,
        "trainable_params": trainable,
        "total_params": total,
        "trainable_share": trainable / total,
    }
    if self_training:
        results["self_training"] = self_training
    if semi:
        results["semi"] = semi
    if getattr(strategy, "probe_accuracy", None) is not None:
        results["probe_val_accuracy"] = strategy.probe_accuracy
    if getattr(strategy, "norm_statistics", None) is not None:  # lp-ft: "start" or "adapted" (AdaBN)
        results["probe_norm_statistics"] = strategy.norm_statistics
    tuned_state = backbone_state(model)
    results.update(blend(cfg, model, start_state, data, device))
    results["val_accuracy"] = accuracy(model, data.val, size, device)
    if data.test is not None:
        results.update(report_on_test(model, data, size, device))
    results["forgetting"] = (forgetting_of or measure_forgetting)(cfg, model, start_state, tuned_state, device)
    if is_rank_zero():
        export(rundir, model, cfg)
        results["seconds"] = round(seconds + time.perf_counter() - t0, 1)
        rundir.merge_results(results)
    f = results["forgetting"]
    return FinetuneResult(
        rundir.path,
        cfg.strategy,
        results.get("accuracy"),
        results["val_accuracy"],
        results["trainable_share"],
        f if f and ("before" in f or "perplexity" in f) else None,
        int(cfg.steps),
        round(seconds + time.perf_counter() - t0, 1),
    )


def accuracy(model: Classifier, data, size: int, device) -> float:
    probs = predict_probs(model, data, image_size=size, device=device)
    return (probs.argmax(1) == torch.from_numpy(data.labels)).float().mean().item()


def blend(cfg: FinetuneConfig, model: Classifier, start: dict, data: LabeledSplits, device) -> dict:
    """WiSE-FT at the given alpha, or the alpha the validation split likes best."""
    if cfg.blend is None:
        return {}
    model.cpu()
    if cfg.blend == "sweep":
        alpha, scores = sweep_blend(
            model, start, lambda m: accuracy(m.cpu(), data.val, int(cfg.image_size), device)
        )
        log.info("WiSE-FT sweep: validation accuracy %s -> alpha %s", scores, alpha)
        model.cpu()
        return {"blend": alpha, "blend_sweep": {str(a): s for a, s in scores.items()}}
    apply_blend(model, start, float(cfg.blend))
    return {"blend": float(cfg.blend)}


def report_on_test(model: Classifier, data: LabeledSplits, size: int, device) -> dict:
    """accuracy, per_class and confusion (rows: true class) on the test split."""
    probs = predict_probs(model, data.test, image_size=size, device=device)
    report = classification_report(probs, torch.from_numpy(data.test.labels), data.classes)
    return {
        "accuracy": report["accuracy"],
        "per_class": report["per_class"],
        "confusion": report["confusion_matrix"],
        "test_size": len(data.test),
    }


def measure_forgetting(
    cfg: FinetuneConfig, model: Classifier, start: dict, tuned: dict, device, *,
    opener: Callable[[str, str], Any] | None = None, warn: bool = True,
) -> dict | None:
    """kNN accuracy on the pretraining data before/after fine-tuning (and blended); None from scratch.
    `opener(spec, split)` opens the data as another kind of set (text); default: images. `warn=False`:
    a pretraining set without labels is noted in the results only (text measures perplexity instead)."""
    if cfg.from_ == "scratch":
        return None
    if not cfg.forgetting_data:
        return {"skipped": "no labeled pretraining data known; pass --forgetting-data (in a study: "
                           "--finetune-args forgetting_data=...)"}
    try:
        bank, query = forgetting_sets(cfg.forgetting_data, seed=cfg.seed, opener=opener)
    except HeadstartError as err:
        (log.warning if warn else log.info)("kNN forgetting not measured: %s", err)
        return {"skipped": str(err), "data": cfg.forgetting_data}
    model.cpu()
    before = copy_backbone(model, start)
    unchanged = start.keys() == tuned.keys() and all(
        torch.equal(start[k], tuned[k].to(start[k].device)) for k in start)
    after = before if unchanged else copy_backbone(model, tuned)  # a frozen backbone: one kNN, drop 0
    blended = model.backbone if cfg.blend is not None else None
    out = forgetting(
        before,
        after,
        bank,
        query,
        image_size=int(cfg.image_size),
        k=cfg.knn_k,
        blended=blended,
        device=device,
    )
    model.cpu()
    return {"data": cfg.forgetting_data, **out}


def export(rundir: Run, model: Classifier, cfg: FinetuneConfig) -> None:
    """exported/model.safetensors (backbone + head, plain names) and exported/backbone.safetensors."""
    save_classifier(model, rundir.model_file, int(cfg.image_size))
    save_backbone(model.backbone, rundir.backbone_file, cfg.model)


def copy_backbone(model: Classifier, state: dict[str, torch.Tensor]):
    """A copy of `model`'s backbone holding `state` (e.g. the start weights)."""
    backbone = copy.deepcopy(model.backbone)
    backbone.module.load_state_dict(state)
    return backbone
