"""`headstart bias`: where a fine-tuned classifier fails — per class, per group — and how
well its confidence is calibrated; optionally against another run on the same images.

    headstart bias --run runs/ft --data ./labeled [--groups groups.csv] [--baseline runs/scratch]

Writes `bias.html` (+ plots/) in the run folder (or `--out`) and the figures under "bias" in
the run's results.json.
"""

from __future__ import annotations

import torch

from headstart.adapt.data import open_labeled, open_test
from headstart.adapt.head import load_classifier
from headstart.adapt.infer import predict_probs
from headstart.commands._path_table import columns_by_path
from headstart.config import api_function
from headstart.data.imageset import ImageSet
from headstart.errors import HeadstartError
from headstart.eval.bias import bias_report
from headstart.eval.config import BiasConfig
from headstart.report.bias import summary, write_bias_page
from headstart.run import Run


def run(cfg: BiasConfig) -> dict:
    """The bias report of `cfg.run` on the test images of `cfg.data`; returns it (also in results.json)."""
    folder = Run.read(cfg.run)
    model, size = load_classifier(folder)
    test = labeled_test(cfg, size)
    if test.classes != model.classes:
        raise HeadstartError(f"{cfg.data} has classes {test.classes[:5]}, the run was trained on {model.classes[:5]}",
                             fix="pass labeled data with the run's classes")
    probs = predict_probs(model, test, image_size=size, batch_size=cfg.batch_size, progress=cfg.progress)
    baseline = baseline_probs(cfg, test) if cfg.baseline else None
    groups = columns_by_path(cfg.groups, list(test.paths)) if cfg.groups else None
    report = bias_report(probs, torch.from_numpy(test.labels), test.classes, groups=groups, baseline=baseline,
                         margin=cfg.margin, bins=cfg.bins, seed=cfg.seed)
    report["page"] = str(write_bias_page(report, out=cfg.out or folder.path, title=f"Bias report: {folder.path.name}"))
    report["summary"] = summary(report)
    folder.merge_results({"bias": report})
    return report


def labeled_test(cfg: BiasConfig, size: int) -> ImageSet:
    """The test split of `--data`, or all of it when it has none."""
    labeled = open_labeled(cfg.data, on_bad_image=cfg.on_bad_image, load_size=size)
    return open_test(cfg.data, labeled, on_bad_image=cfg.on_bad_image, load_size=size) or labeled


def baseline_probs(cfg: BiasConfig, test: ImageSet) -> torch.Tensor:
    model, size = load_classifier(Run.read(cfg.baseline))
    if model.classes != test.classes:
        raise HeadstartError(f"--baseline {cfg.baseline} was trained on other classes ({model.classes[:5]})",
                             fix="compare two runs fine-tuned on the same classes")
    return predict_probs(model, test, image_size=size, batch_size=cfg.batch_size, progress=cfg.progress)


bias = api_function(BiasConfig, run, "bias",
                    "Per-class and per-group accuracy with intervals, flags and calibration of a fine-tuned run; "
                    "writes bias.html, returns the report.")
