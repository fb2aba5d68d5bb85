"""`headstart evaluate`: the numbers of a run, merged into its `results.json`.

- a pretraining run (only `exported/backbone.safetensors`): kNN accuracy (Wu et al. 2018) and a
  linear probe (logistic regression, L2 chosen on a validation split) on frozen features, training
  split -> test split;
- a fine-tuned run (`exported/model.safetensors`): accuracy, per-class accuracy and the confusion
  matrix on the test split.

When `--data` has no separate test split, a pretraining run is scored on a stratified 80/20
split of it, and a fine-tuned run on all of it (pass the held-out images as `--data`).
"""

from __future__ import annotations

import torch

from headstart.adapt.config import EvaluateConfig
from headstart.adapt.data import open_labeled, open_test
from headstart.adapt.dense_model import run_task
from headstart.adapt.head import load_classifier
from headstart.adapt.infer import predict_probs
from headstart.commands._text_eval import evaluate_text
from headstart.commands.dense_eval import evaluate_dense
from headstart.config import api_function
from headstart.data.imageset import ImageSet
from headstart.data.subsets import label_subset, split_train_val
from headstart.errors import HeadstartError
from headstart.eval.features import extract_features
from headstart.eval.gains import METRIC_NAMES
from headstart.eval.knn import knn_accuracy
from headstart.eval.linear import linear_probe
from headstart.eval.metrics import classification_report
from headstart.models.factory import load_run_backbone
from headstart.models.family import model_modality
from headstart.run import Run


def run(cfg: EvaluateConfig) -> dict:
    folder = Run(cfg.run)
    if folder.results().get("task") in ("instruct", "align"):  # a language model tuned to answer
        from headstart.commands._instruct_eval import evaluate_lm  # transformers: only for a text run

        results = evaluate_lm(cfg, folder)
    elif folder.config_file.is_file() and model_modality(folder.model_name) == "text" and folder.method:
        results = evaluate_text(cfg, folder)
    elif run_task(folder) != "classify":
        results = evaluate_dense(cfg, folder)
    elif folder.model_file.is_file():
        results = evaluate_classifier(cfg, folder)
    elif folder.backbone_file.is_file():
        results = evaluate_backbone(cfg, folder)
    else:
        raise HeadstartError(
            f"{cfg.run} is not a finished headstart run (no exported/ weights)",
            fix="pass the --out of a finished pretrain or finetune run",
        )
    folder.merge_results(results)
    return results


def splits(cfg: EvaluateConfig, size: int | None, *, whole_if_no_test: bool) -> tuple[ImageSet, ImageSet]:
    """(train, test) of `--data`, each optionally cut to a stratified share (--labels, --test-labels)."""
    train = open_labeled(cfg.data, on_bad_image=cfg.on_bad_image, load_size=size)
    test = open_test(cfg.data, train, on_bad_image=cfg.on_bad_image, load_size=size)
    if test is None:
        if whole_if_no_test:
            return train, train
        keep, held = split_train_val(range(len(train)), train.labels, val_fraction=0.2, seed=cfg.seed)
        train, test = train.subset(keep), train.subset(held)
    if cfg.labels:
        train = train.subset(label_subset(train.labels, labels_budget=cfg.labels, seed=cfg.seed))
    if cfg.test_labels:
        test = test.subset(label_subset(test.labels, labels_budget=cfg.test_labels, seed=cfg.seed))
    return train, test


def evaluate_backbone(cfg: EvaluateConfig, folder: Run) -> dict:
    """kNN and linear-probe test accuracy of the run's frozen backbone."""
    size = cfg.image_size or folder.image_size
    train, test = splits(cfg, size, whole_if_no_test=False)
    size = size or int(train.images.shape[-1] if train.images is not None else train.size)
    backbone = load_run_backbone(folder, image_size=size).eval()

    def features(data: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
        return extract_features(
            backbone,
            data.with_format(size=size, channels=data.channels),
            batch_size=cfg.batch_size,
            progress=cfg.progress,
        )

    (tr_f, tr_y), (te_f, te_y) = features(train), features(test)
    k = len(train.classes)
    knn = knn_accuracy(tr_f, tr_y, te_f, te_y, k=cfg.knn_k, num_classes=k)
    fit_idx, val_idx = split_train_val(range(len(tr_y)), tr_y.numpy(), val_fraction=0.1, seed=cfg.seed)
    fit_idx, val_idx = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
    probe = linear_probe(
        tr_f[fit_idx], tr_y[fit_idx], tr_f[val_idx], tr_y[val_idx], te_f, te_y, num_classes=k
    )
    return {
        "knn": knn,
        "knn_k": cfg.knn_k,
        "linear_probe": probe.test_accuracy,
        "linear_probe_val": probe.val_accuracy,
        "linear_probe_l2": probe.weight_decay,
        "eval_data": cfg.data,
        "eval_train": len(train),
        "eval_test": len(test),
        "image_size": size,
    }


def evaluate_classifier(cfg: EvaluateConfig, folder: Run) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of the run's fine-tuned classifier."""
    model, size = load_classifier(folder)
    size = cfg.image_size or size
    _, test = splits(cfg, size, whole_if_no_test=True)
    if test.classes != model.classes:
        raise HeadstartError(
            f"{cfg.data} has classes {test.classes[:5]}, the run was trained on {model.classes[:5]}",
            fix="evaluate on data with the run's class sub-folders",
        )
    probs = predict_probs(model, test, image_size=size, batch_size=cfg.batch_size, progress=cfg.progress)
    report = classification_report(probs, torch.from_numpy(test.labels), model.classes)
    return {
        "accuracy": report["accuracy"],
        "per_class": report["per_class"],
        "confusion": report["confusion_matrix"],
        "eval_data": cfg.data,
        "eval_test": len(test),
    }


def format_table(results: dict) -> str:
    """A short plain-text table of the headline numbers."""
    rows = [
        (key, results[key]) for key in ("knn", "linear_probe", "accuracy") if results.get(key) is not None
    ]
    lines = [f"{name:<14}{value:>8.1%}" for name, value in rows]
    if results.get("perplexity") is not None:  # a text run's language model, on held-out text
        lines.append(f"{'perplexity':<14}{results['perplexity']:>8.1f}")
    lm = results.get("evaluation") or {}  # an instruct / align run
    lines += [f"{'exact_match':<14}{lm['exact_match']:>8.1%}"] if "exact_match" in lm else []
    lines += [f"{'preference':<14}{lm['preference']['accuracy']:>8.1%}"] if lm.get("preference") else []
    lines += [f"{METRIC_NAMES[key]:<14}{results[key]:>8.1%}" for key in ("map50", "map", "miou", "pixel_accuracy")
              if results.get(key) is not None]
    if results.get("per_class_ap"):  # a detector: AP@0.5 and AP@0.5:0.95 per class
        lines.append(f"  {'class':<12}{'AP@0.5':>8}{'AP':>8}")
        lines += [f"  {name:<12}{_pct(ap['ap50'])}{_pct(ap['ap'])}" for name, ap in results["per_class_ap"].items()]
    for name, acc in {**(results.get("per_class") or {}), **(results.get("per_class_iou") or {})}.items():
        lines.append(f"  {name:<12}{_pct(acc)}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return f"{value:>8.1%}" if value is not None else f"{'-':>8}"


evaluate = api_function(
    EvaluateConfig,
    run,
    "evaluate",
    "kNN + linear probe of a pretraining run, or accuracy/per-class/confusion of a fine-tuned "
    "run; merged into the run's results.json and returned.",
)
