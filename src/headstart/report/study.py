"""The study's report: plots (PNG) and a self-contained report.html over results.json's figures.

It reads the run folders the study wrote (the pretraining run's metrics.csv and results.json, each
cell's metrics.csv and results.json for the learning curves and the confusion matrix, and the
cells' test probabilities for the bias section) through `Run`, and the test split once for the
embedding map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from headstart.data.sources import open_data
from headstart.eval.features import extract_features
from headstart.eval.gains import curve_name, describe, format_point, score, val_score
from headstart.io import write_text
from headstart.models.factory import load_run_backbone
from headstart.report import html, plots
from headstart.report.study_bias import bias_part
from headstart.run import Run

TERMS = [
    ("from scratch", "the same network with random weights, every weight trained on the labeled examples only."),
    ("linear", "the pretrained backbone stays frozen; only a new linear classifier on its features is trained."),
    ("lp-ft", ("linear probe, then fine-tune: the head is first trained on the frozen backbone, then every "
               "weight is trained, so a random head does not distort the pretrained features.")),
    ("full", "every weight (backbone and a new head) is trained on the labeled examples from the start."),
    ("+ semi", ("fine-tuning also trained on the unlabeled rest of the data (consistency on confident "
                "pseudo-labels); scratch + semi is the matching baseline.")),
    ("tfidf/logreg", ("text: TF-IDF of character 2-5-grams and logistic regression (C=10), fit on the same "
                      "labeled texts only; the classic few-label text baseline, no pretraining.")),
    ("paired gain", ("per seed, the pretrained cell's test score (accuracy, mAP or mIoU) minus the from-scratch "
                     "cell's; both used the same labeled subset and test examples, so the pair shares its luck and "
                     "the difference is measured more precisely than two separate scores.")),
    ("95% CI", ("mean ± t(0.975, n-1) · s / √n over the n seeds (Student t); none with one seed. A gain is called "
                "significant only when its interval excludes zero.")),
    ("labels to match", ("the fewest labels at which from-scratch's UPPER 95% bound reaches the pretrained "
                         "model's LOWER 95% bound (interpolated on a log axis); that count over the labels used is "
                         "the saving, a conservative estimate shown only when the intervals support one.")),
    ("kNN, online monitor", ("during pretraining: k-nearest-neighbour accuracy with a bank of 10,000 labeled "
                             "training images and 2,000 test queries; it tracks progress (the pretraining plot and "
                             "the pretraining run's kNN).")),
    ("kNN, frozen features", ("after pretraining, as `headstart evaluate` measures it: a bank of up to 60,000 "
                              "labeled images and up to 10,000 test queries; a larger bank gives a higher figure, "
                              "so it does not compare with the monitor's.")),
]


def write_report(*, out: Path, results: dict[str, Any], pretrained: Path, title: str,
                 test_data: str | None, predictions: Path | None = None) -> Path:
    """Write `out/plots/*.png` and `out/report.html` from the study's results; returns the page.

    Args:
        out: the study folder.
        results: what the study wrote to results.json (answer, curves, gains, chosen, savings, cells,
            frozen_knn).
        pretrained: the pretraining run folder.
        title: the page's title.
        test_data: the labeled test set the embedding map shows; None: no map.
        predictions: a picture of the chosen detector's or segmenter's predictions (`chosen_cell`).
    """
    pdir = out / "plots"
    cells, gains = results["cells"], results.get("gains", [])
    metric = results.get("metric", "accuracy")
    sections = [
        ("How each figure was chosen", _choices(results)),
        ("Terms", html.terms([t for t in TERMS if (t[0] != "+ semi" or any("+" in c for c in results["curves"]))
                              and (t[0] != "tfidf/logreg" or t[0] in results["curves"])])),
        ("Paired gain over from scratch, per budget",
         html.figure(plots.paired_gains(gains, pdir / "paired_gain.png", metric=metric),
                     "Paired gain of each pretrained strategy over from scratch at each budget: mean over seeds "
                     "and its 95% interval (hollow: one seed, no interval). Above zero with the whole bar: a "
                     "significant gain.") + _gains_table(gains) if gains else ""),
        ("Label efficiency",
         html.figure(plots.label_efficiency(results["curves"], pdir / "label_efficiency.png", metric=metric),
                     f"Test {metric} against labeled images, from scratch vs pretrained: mean and 95% interval "
                     "over seeds.") + _curve_table(results["curves"], metric)
         + _savings_table(results.get("savings", []))),
        ("Frozen features before fine-tuning (kNN)", _frozen(results.get("frozen_knn"))),
        ("Every cell", _cells_table(cells, out)),
        ("The model chosen on validation", _confusion(results, pdir) + _predictions(results, predictions)),
        ("Per class and calibration: from scratch vs pretrained", bias_part(results, out, pdir)),
        ("Training curves", _training_curves(cells, pretrained, pdir)),
        ("Embeddings", _embedding(test_data, pretrained, pdir)),
        ("Pretraining run", _pretraining_table(pretrained)),
    ]
    page = html.render(title=title, answer=results["answer"], sections=sections,
                       footer=f"All figures are also in results.json. Study folder: {out}")
    write_text(out / "report.html", page)
    return out / "report.html"


def _choices(results: dict[str, Any]) -> str:
    chosen, metric = results.get("chosen"), results.get("metric", "accuracy")
    if chosen:
        pick = (f"The answer's strategy and budget ({chosen['curve']}, {chosen['labels']:,} labels) were chosen on "
                f"validation {metric} (the held-out part of each labeled budget): per budget the strategy with "
                "the best paired validation gain, then the budget whose validation gain has the highest lower "
                f"95% bound. Test {metric} played no part in any choice.")
    else:
        pick = (f"The cells carry no validation {metric}, so nothing was picked: the answer lists every "
                "pretrained cell's paired gain.")
    items = [pick,
             f"Every {metric} shown is on the test split; every interval is over seeds (95%, Student t).",
             "The confusion matrix is of the chosen strategy and budget, the seed with the best validation "
             "accuracy." if chosen else "The confusion matrix is of the largest budget's first seed of the first "
             "pretrained strategy (no validation accuracy to choose by).",
             "The fine-tuning curves show each strategy at its largest budget, first seed (a fixed choice)."]
    return "<ul>" + "".join(f"<li>{html.paragraph(i)}</li>" for i in items) + "</ul>"


def _ci(low: float | None, high: float | None) -> str:
    return "none (1 seed)" if low is None else f"{100 * low:+.1f} to {100 * high:+.1f}"


def _gains_table(gains: list[dict[str, Any]]) -> str:
    rows = [[g["curve"], g["budget"], f"{g['labels']:,}", f"{100 * g['gain']:+.1f}", _ci(g["low"], g["high"]),
             g["n"], "—" if g["val_gain"] is None else f"{100 * g['val_gain']:+.1f}", describe(g)] for g in gains]
    return html.table(["start/strategy", "budget", "labels", "gain (points)", "95% CI", "seeds",
                       "validation gain", "what it supports"], rows)


def _curve_table(curves: dict[str, list[dict[str, Any]]], metric: str) -> str:
    rows = [[name, p["budget"], f"{p['labels']:,}", format_point(p),
             "—" if p["val_mean"] is None else f"{p['val_mean']:.1%}", ", ".join(f"{v:.1%}" for v in p["values"])]
            for name, pts in curves.items() for p in pts]
    return html.table(["start/strategy", "budget", "labels", f"test {metric}, 95% CI", "validation", "per seed"],
                      rows)


def _savings_table(savings: list[dict[str, Any]]) -> str:
    if not savings:
        return html.paragraph("Labels to match: no budget where the intervals support a saving.")
    rows = [[s["curve"], s["budget"], f"{s['labels']:,}", f"{s['bound']:.1%}",
             f"{'>' if s['relation'] == '>' else ''}{s['scratch_labels']:,}",
             f"{'more than' if s['relation'] == '>' else 'at least'} {s['factor']:.1f}x"] for s in savings]
    return html.paragraph("Labels to match (conservative; see Terms):") + html.table(
        ["start/strategy", "budget", "labels", "lower 95% bound", "scratch labels to match", "saving"], rows)


def _frozen(frozen: dict[str, Any] | None) -> str:
    """The frozen-kNN figures, or "" (no section) when the study measured none."""
    if not frozen:
        return ""
    rows = [["pretrained backbone", f"{frozen['pretrained']:.1%}"],
            ["same architecture, random weights", f"{frozen['random']:.1%}"],
            ["raw pixels", f"{frozen['pixels']:.1%}"]]
    caption = (f"kNN accuracy on {frozen['queries']:,} test images with {frozen['bank']:,} labeled images as the "
               f"bank, k={frozen['k']}, cosine similarity, votes weighted exp(sim/0.07); no training on labels.")
    return html.paragraph(caption) + html.table(["features", "kNN accuracy"], rows)


def _cells_table(cells: list[dict[str, Any]], out: Path) -> str:
    rows = [[c["id"], curve_name(c), c["budget"], c["seed"], f"{c['labels']:,}",
             "—" if val_score(c) is None else f"{val_score(c):.1%}", f"{score(c):.1%}",
             f"{c['seconds']:.0f}", _relative(Path(c["run"]), out) if c.get("run") else "—"] for c in cells]
    return html.table(["cell", "start/strategy", "budget", "seed", "labels", "validation", "test", "seconds",
                       "folder"], rows)


def _relative(path: Path, out: Path) -> str:
    return str(path.relative_to(out)) if path.is_relative_to(out) else str(path)


def chosen_cell(results: dict[str, Any]) -> dict[str, Any] | None:
    cells, chosen = results["cells"], results.get("chosen")
    if chosen:
        mine = [c for c in cells if curve_name(c) == chosen["curve"] and c["budget"] == chosen["budget"]]
        return max(mine, key=lambda c: (val_score(c), -c["seed"]), default=None)
    pre = sorted((c for c in cells if c["start"] == "pretrained"), key=lambda c: (-c["labels"], curve_name(c),
                                                                                     c["seed"]))
    return pre[0] if pre else None


def _confusion(results: dict[str, Any], pdir: Path) -> str:
    cell = chosen_cell(results)
    res = Run(Path(cell["run"])).results() if cell else {}
    if "confusion" not in res:
        return ""
    classes = list(res.get("classes") or (res.get("per_class") or {}).keys()) or \
        [str(i) for i in range(len(res["confusion"]))]
    val = f", validation {cell['val_accuracy']:.1%}" if cell.get("val_accuracy") is not None else ""
    title = (f"{curve_name(cell)}, {cell['labels']:,} labels, seed {cell['seed']}: "
             f"test {cell['accuracy']:.1%}{val}")
    path = plots.confusion(np.array(res["confusion"]), classes, title, pdir / "confusion.png")
    how = "chosen on validation accuracy" if cell.get("val_accuracy") is not None else "a fixed choice"
    return html.figure(path, f"Confusion matrix on the test split (rows: true class) of the model {how}: {title}.")


def _predictions(results: dict[str, Any], drawn: Path | None) -> str:
    """A detection or segmentation study's picture of the chosen model's predictions ("" without one)."""
    cell = chosen_cell(results)
    if cell is None or drawn is None:
        return ""
    how = "chosen on validation" if results.get("chosen") else "a fixed choice"
    what = "boxes with score >= 0.3" if cell.get("metric") == "map" else "predicted classes as coloured masks"
    return html.figure(drawn, f"{curve_name(cell)}, {cell['labels']:,} labels, seed {cell['seed']} ({how}): "
                              f"{what}, on the first test images.")


def _training_curves(cells: list[dict[str, Any]], pretrained: Path, pdir: Path) -> str:
    """The pretraining loss and monitor; each strategy's fine-tuning at its largest budget, first seed."""
    out = ""
    pre = plots.read_metrics(pretrained / "metrics.csv")
    keys = [k for k in ("train/loss_step", "monitor/knn") if k in pre]
    if keys:
        out += html.figure(plots.learning_curves({"pretraining": pre}, keys, "Pretraining", pdir / "pretraining.png"),
                           "Pretraining: self-supervised loss per step" + (", and the online monitor's kNN accuracy."
                                                                             if "monitor/knn" in keys else "."))
    largest: dict[str, dict] = {}
    for c in (c for c in cells if c.get("run")):  # a TF-IDF cell trains no network: no curve
        name = curve_name(c)
        if name not in largest or (c["labels"], -c["seed"]) > (largest[name]["labels"], -largest[name]["seed"]):
            largest[name] = c
    series = {f"{n} ({c['labels']:,} labels)": plots.read_metrics(Path(c["run"]) / "metrics.csv")
              for n, c in largest.items()}
    keys = sorted({k for m in series.values() for k in m if ("loss" in k or "acc" in k) and not k.endswith("_epoch")})
    if keys:
        out += html.figure(plots.learning_curves(series, keys[:3], "Fine-tuning", pdir / "finetuning.png"),
                           "Fine-tuning learning curves at the largest budget (first seed).")
    return out


def _embedding(spec: str | None, pretrained: Path, pdir: Path) -> str:
    if spec is None or not Run(pretrained).backbone_file.is_file():
        return ""
    data = open_data(spec)
    if not data.has_labels:
        return ""
    idx = np.random.default_rng(0).choice(len(data), size=min(2000, len(data)), replace=False)
    data = data.subset(np.sort(idx))
    run = Run.read(pretrained)
    size = run.image_size
    backbone = load_run_backbone(run).eval()
    feats, labels = extract_features(backbone, data.with_format(size=size, channels=data.channels), progress=False)
    # thumbnails are drawn by index into the same 2,000 images, so a folder set decodes them all
    images = data.images.numpy() if data.images is not None else np.stack([data[i][0].numpy() for i in range(len(data))])
    path = plots.embedding_map(feats.numpy(), labels.numpy(), data.classes, images, pdir / "embeddings.png")
    return html.figure(path, f"Pretrained embeddings of {len(data):,} test images (PCA to 2-D), coloured by class, "
                             "with thumbnails.")


def _pretraining_table(pretrained: Path) -> str:
    pre = Run(pretrained).results()
    knn = f"{pre['knn']:.1%}" if pre.get("knn") is not None else "—"
    return html.table(["folder", "steps", "wall time (s)", "kNN (online monitor)"],
                      [[str(pretrained), pre.get("steps", "—"), pre.get("seconds", "—"), knn]])
