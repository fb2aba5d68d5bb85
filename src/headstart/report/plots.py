"""The study's plots, each a function of plain data that writes one PNG (matplotlib, Agg)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

SCRATCH_COLOR = "#555555"
# colour-blind-safe (Okabe-Ito) colours, one per strategy, the same in every plot
STRATEGY_COLORS = {"full": "#0072B2", "lp-ft": "#D55E00", "linear": "#009E73", "lora": "#CC79A7",
                   "qlora": "#E69F00", "freeze": "#56B4E9"}
EXTRA_COLORS = ["#8C564B", "#17BECF", "#BCBD22", "#7F7F7F"]


def curve_style(name: str) -> dict[str, Any]:
    """Colour by strategy (grey for from scratch), line and marker by start (squares: scratch, triangles:
    the baseline start, circles: pretrained), hollow markers when semi-supervised."""
    start, _, rest = name.partition("/")
    strategy, _, semi = rest.partition("+")
    if start == "scratch":
        color = SCRATCH_COLOR
    else:
        color = STRATEGY_COLORS.get(strategy, EXTRA_COLORS[sum(map(ord, strategy)) % len(EXTRA_COLORS)])
    return {"color": color, "linestyle": "--" if start == "baseline" else "-",
            "marker": {"scratch": "s", "baseline": "^"}.get(start, "o"), "markerfacecolor": "white" if semi else color}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from headstart.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    _plt().close(fig)
    return path


def label_efficiency(curves: dict[str, list[dict[str, Any]]], path: Path, *, metric: str = "accuracy") -> Path:
    """Test score (`metric` in words) vs labels (log x), one line per start/strategy, 95% CI error bars
    (none for one seed)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for j, (name, pts) in enumerate(curves.items()):
        # curves side by side (a few % apart on the log axis) so their error bars do not hide each other
        x = [p["labels"] * 1.04 ** (j - (len(curves) - 1) / 2) for p in pts]
        y = [100 * p["mean"] for p in pts]
        err = [100 * p["ci"] if p["ci"] is not None else 0.0 for p in pts]
        ax.errorbar(x, y, yerr=err if any(err) else None, capsize=4, elinewidth=1.5, linewidth=2,
                    markersize=6, label=name, **curve_style(name))
    ax.set_xscale("log")
    ax.set_xticks(sorted({p["labels"] for pts in curves.values() for p in pts}),
                  [f"{n:,}" for n in sorted({p["labels"] for pts in curves.values() for p in pts})])
    ax.minorticks_off()
    ax.set_xlabel("labeled images (log scale)")
    ax.set_ylabel(f"test {metric} (%)")
    ax.set_title(f"Label efficiency: test {metric} vs labels (mean, 95% CI over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return _save(fig, path)


def paired_gains(gains: list[dict[str, Any]], path: Path, *, metric: str = "accuracy") -> Path:
    """Paired gain over from-scratch training per budget, one point per strategy with its 95% CI.

    Points of one budget sit side by side; a point without an interval (one seed) is drawn hollow
    and marked "1 seed". The zero line is where pretraining neither helps nor hurts.
    """
    plt = _plt()
    budgets = sorted({(g["labels"], g["budget"]) for g in gains})
    names = sorted({g["curve"] for g in gains})
    fig, ax = plt.subplots(figsize=(max(6.5, 2.4 * len(budgets) + 2), 4.8))
    width = 0.7 / max(1, len(names))
    for j, name in enumerate(names):
        style, label = curve_style(name), name
        for i, (labels, budget) in enumerate(budgets):
            g = next((g for g in gains if g["curve"] == name and g["budget"] == budget), None)
            if g is None:
                continue
            x, y = i + (j - (len(names) - 1) / 2) * width, 100 * g["gain"]
            has_ci = g["low"] is not None
            yerr = [[y - 100 * g["low"]], [100 * g["high"] - y]] if has_ci else None
            ax.errorbar([x], [y], yerr=yerr, capsize=5, elinewidth=2, markersize=8, color=style["color"],
                        marker="D" if "+" in name else style["marker"],   # diamonds: semi-supervised
                        markerfacecolor=style["color"] if has_ci else "white", linestyle="none",
                        label=label)
            label = None   # one legend entry per strategy
            ax.annotate(f"{y:+.1f}" + ("" if has_ci else " (1 seed)"), (x, 100 * g["high"] if has_ci else y),
                        textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.axhline(0, color="black", linewidth=1)
    ax.set_xticks(range(len(budgets)), [f"{labels:,} labels\n({budget})" for labels, budget in budgets])
    ax.set_xlim(-0.6, len(budgets) - 0.4)
    ax.set_ylabel(f"gain over scratch ({metric} points)")
    ax.set_title("Paired gain over from scratch\n(same labeled subset and seed): mean, 95% CI")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return _save(fig, path)


def read_metrics(path: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.csv -> {column: [(step, value), ...]} for the non-empty cells."""
    out: dict[str, list[tuple[int, float]]] = {}
    if not path.is_file():
        return out
    for row in csv.DictReader(path.open()):
        step = int(float(row.get("step") or 0))
        for k, v in row.items():
            if k not in ("step", "epoch") and v not in ("", None):
                out.setdefault(k, []).append((step, float(v)))
    return out


def learning_curves(series: dict[str, dict[str, list[tuple[int, float]]]], keys: list[str], title: str,
                    path: Path) -> Path:
    """One panel per metric key; one line per run (name -> metrics)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, metrics in series.items():
            pts = metrics.get(key, [])
            if pts:
                s, v = zip(*pts)
                ax.plot(s, v, marker="o" if len(pts) < 20 else None, label=name)
        ax.set_xlabel("step")
        ax.set_title(key)
        ax.grid(True, alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def confusion(matrix: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    """Row-normalised confusion matrix with counts."""
    plt = _plt()
    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(1, m.sum(1, keepdims=True))
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def embedding_map(feats: np.ndarray, labels: np.ndarray, classes: list[str], images: np.ndarray,
                  path: Path, thumbs: int = 12) -> Path:
    """2-D PCA of L2-normalised embeddings, coloured by class, with a few image thumbnails."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    plt = _plt()
    x = feats / np.maximum(1e-8, np.linalg.norm(feats, axis=1, keepdims=True))
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T                                               # (N, 2)
    fig, ax = plt.subplots(figsize=(9, 6))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for c, name in enumerate(classes):
        sel = labels == c
        ax.scatter(xy[sel, 0], xy[sel, 1], s=5, alpha=0.6, color=cmap(c % cmap.N), label=name)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(xy), size=min(thumbs, len(xy)), replace=False):
        img = images[i].transpose(1, 2, 0) if images[i].shape[0] == 3 else images[i][0]
        box = OffsetImage(img, zoom=1.0, cmap="gray" if img.ndim == 2 else None)
        ax.add_artist(AnnotationBbox(box, xy[i], frameon=True, pad=0.1))
    ax.set_title("Embeddings of the test images (PCA), coloured by class")
    # outside the axes: inside, it would cover points and thumbnails
    ax.legend(markerscale=3, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="class")
    return _save(fig, path)


def image_row(images: list, path: Path, *, per_row: int = 4) -> Path:
    """uint8 RGB images `(3, h, w)` of one size tiled `per_row` to a row, white between them, as one PNG."""
    from PIL import Image
    from torchvision.utils import make_grid

    from headstart.io import atomic_write

    grid = make_grid(images, nrow=per_row, padding=4, pad_value=255).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: Image.fromarray(grid).save(f, format="png"))
    return path
