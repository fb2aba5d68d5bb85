"""The study's report: plots (PNG), a self-contained report.html, figures already in results.json."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from headstart.io import write_text
from headstart.report import html, plots
from headstart.eval.study.config import StudyConfig, test_spec


def write_report(out: Path, cfg: StudyConfig, results: dict[str, Any], pretrained: Path) -> Path:
    pdir = out / "plots"
    curves = results["curves"]
    figures = [(plots.label_efficiency(curves, pdir / "label_efficiency.png"),
                "Label efficiency: test accuracy against labeled images, from scratch vs pretrained.")]
    pre = plots.read_metrics(pretrained / "metrics.csv")
    keys = [k for k in ("train/loss_step", "monitor/knn") if k in pre]
    if keys:
        figures.append((plots.learning_curves({"pretraining": pre}, keys, "Pretraining", pdir / "pretraining.png"),
                        "Pretraining: self-supervised loss per step, and kNN accuracy of the features on "
                        "held-out labeled images (the online monitor)."))
    figures += _finetune_figures(results["cells"], pdir)
    figures += _embedding_figure(cfg, pretrained, pdir)
    sections = [("Accuracy by label budget", _curve_table(curves)),
                ("Label savings", _savings_table(results.get("savings", []))),
                ("Frozen features before fine-tuning", _frozen_table(results.get("frozen_knn"))),
                ("Runs", _runs_table(results, pretrained))]
    page = html.render(title=f"headstart study: {cfg.model} + {cfg.method} on {cfg.data}",
                       answer=results["answer"], sections=sections, figures=figures,
                       footer=f"All figures are also in results.json. Study folder: {out}")
    write_text(out / "report.html", page)
    return out / "report.html"


def _finetune_figures(cells: list[dict[str, Any]], pdir: Path) -> list[tuple[Path, str]]:
    """Learning curves of one run per curve (largest budget, first seed) and the best model's confusion."""
    largest: dict[str, dict] = {}
    for c in cells:
        name = f"{c['start']}/{c['strategy']}"
        if name not in largest or (c["labels"], -c["seed"]) > (largest[name]["labels"], -largest[name]["seed"]):
            largest[name] = c
    series = {f"{n} ({c['labels']:,} labels)": plots.read_metrics(Path(c["run"]) / "metrics.csv")
              for n, c in largest.items()}
    keys = sorted({k for m in series.values() for k in m if ("loss" in k or "acc" in k) and not k.endswith("_epoch")})
    out = []
    if keys:
        out.append((plots.learning_curves(series, keys[:3], "Fine-tuning", pdir / "finetuning.png"),
                    "Fine-tuning learning curves at the largest budget (first seed)."))
    best = max(cells, key=lambda c: c["accuracy"])
    res = json.loads((Path(best["run"]) / "results.json").read_text())
    if "confusion" in res:
        classes = list(res.get("classes") or (res.get("per_class") or {}).keys()) or \
            [str(i) for i in range(len(res["confusion"]))]
        title = f"Best model: {best['start']}/{best['strategy']}, {best['labels']:,} labels, {best['accuracy']:.1%}"
        out.append((plots.confusion(np.array(res["confusion"]), classes, title, pdir / "confusion.png"),
                    "Confusion matrix of the best fine-tuned model on the test split (rows: true class)."))
    return out


def _embedding_figure(cfg: StudyConfig, pretrained: Path, pdir: Path) -> list[tuple[Path, str]]:
    from headstart.data.sources import open_data
    from headstart.eval.features import extract_features
    from headstart.models import load_run_backbone, run_image_size

    spec = test_spec(cfg)
    if spec is None:
        return []
    data = open_data(spec)
    if not data.has_labels:
        return []
    idx = np.random.default_rng(0).choice(len(data), size=min(2000, len(data)), replace=False)
    data = data.subset(np.sort(idx))
    size = run_image_size(pretrained)
    backbone = load_run_backbone(pretrained).eval()
    feats, labels = extract_features(backbone, data.with_format(size=size, channels=data.channels), progress=False)
    images = data.images.numpy() if data.images is not None else np.stack([data[i][0].numpy() for i in range(24)])
    path = plots.embedding_map(feats.numpy(), labels.numpy(), data.classes, images, pdir / "embeddings.png")
    return [(path, "Pretrained embeddings of 2,000 test images (PCA to 2-D), coloured by class, with thumbnails.")]


def _curve_table(curves: dict[str, list[dict[str, Any]]]) -> str:
    rows = [[name, p["budget"], f"{p['labels']:,}", f"{p['mean']:.2%}", f"± {p['ci']:.2%}",
             ", ".join(f"{v:.2%}" for v in p["values"])] for name, pts in curves.items() for p in pts]
    return html.table(["start/strategy", "budget", "labels", "accuracy", "95% CI", "per seed"], rows)


def _savings_table(rows: list[dict[str, Any]]) -> str:
    body = [[r["budget"], f"{r['labels']:,}", r["curve"], f"{r['mean']:.2%}", f"{r['scratch_mean']:.2%}",
             f"{'>' if r['relation'] == '>' else ''}{r['scratch_labels_needed']:,}", f"{r['factor']:.1f}x"] for r in rows]
    return html.table(["budget", "labels", "best pretrained", "accuracy", "scratch accuracy",
                       "scratch labels to match", "savings"], body)


def _frozen_table(frozen: dict[str, Any] | None) -> str:
    if not frozen:
        return "<p>No labeled pool and test split with the same classes: nothing to compare.</p>"
    rows = [["pretrained backbone", f"{frozen['pretrained']:.2%}"],
            ["same architecture, random weights", f"{frozen['random']:.2%}"],
            ["raw pixels", f"{frozen['pixels']:.2%}"]]
    caption = (f"kNN accuracy on {frozen['queries']:,} test images, bank: {frozen['bank']:,} labeled images, "
               f"k={frozen['k']}, cosine similarity, votes weighted exp(sim/0.07). No training on labels.")
    return f"<p>{escape(caption)}</p>" + html.table(["features", "kNN accuracy"], rows)


def _runs_table(results: dict[str, Any], pretrained: Path) -> str:
    pre = json.loads((pretrained / "results.json").read_text()) if (pretrained / "results.json").is_file() else {}
    rows = [["pretraining", str(pretrained), pre.get("steps", ""), "", f"{pre.get('seconds', '')}",
             f"{pre['knn']:.2%}" if pre.get("knn") is not None else ""]]
    rows += [[c["id"], c["run"], "", f"{c['labels']:,}", f"{c['seconds']}", f"{c['accuracy']:.2%}"]
             for c in results["cells"]]
    return html.table(["run", "folder", "steps", "labels", "wall time (s)", "accuracy / kNN"], rows)
