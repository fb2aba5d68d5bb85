"""The study's plots, each a function of plain data that writes one PNG (matplotlib, Agg)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

COLORS = {"scratch": "#7f7f7f", "pretrained": "#1f77b4", "baseline": "#d62728"}


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


def label_efficiency(curves: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Test accuracy vs labels (log x), one line per start/strategy, 95% CI error bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = ["-", "--", ":", "-."]
    for i, (name, pts) in enumerate(curves.items()):
        start = name.split("/")[0]
        x = [p["labels"] for p in pts]
        y = [100 * p["mean"] for p in pts]
        err = [100 * (p["ci"] if np.isfinite(p["ci"]) else 0) for p in pts]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name, color=COLORS.get(start),
                    linestyle=styles[i % len(styles)])
    ax.set_xscale("log")
    ax.set_xlabel("labeled images (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Label efficiency: fine-tuned accuracy vs labels (mean ± 95% CI over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
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
    fig, ax = plt.subplots(figsize=(7.5, 6))
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
    ax.legend(markerscale=3, fontsize=7, loc="best")
    return _save(fig, path)
