"""The bias section: per-class accuracy with intervals, flagged classes and groups, calibration.

`bias_section` turns the data of `eval.bias.bias_report` into HTML (plots as PNG files in
`pdir`), for `bias.html` and for any report that includes it (the study's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from headstart.io import write_text
from headstart.report.html import figure, paragraph, render, table
from headstart.report.plots import _plt, _save

FLAG_COLOR, OK_COLOR, BASE_COLOR = "#D55E00", "#0072B2", "#555555"  # Okabe-Ito, as the study's plots


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _interval(e: dict[str, Any], signed: bool = False) -> str:
    f = (lambda v: f"{100 * v:+.1f}") if signed else (lambda v: f"{100 * v:.1f}")
    head = f(e["mean"]) + "%"
    return head if e.get("low") is None else f"{head} ({f(e['low'])} to {f(e['high'])})"


def per_class_plot(report: dict[str, Any], path: Path) -> Path:
    """Accuracy per class with its interval, flagged classes in orange, the baseline as grey ticks."""
    plt = _plt()
    rows = report["per_class"]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    acc = np.array([100 * r["accuracy"]["mean"] for r in rows])
    low = np.array([100 * (r["accuracy"]["low"] if r["accuracy"]["low"] is not None else r["accuracy"]["mean"])
                    for r in rows])
    high = np.array([100 * (r["accuracy"]["high"] if r["accuracy"]["high"] is not None else r["accuracy"]["mean"])
                     for r in rows])
    ax.barh(y, acc, color=[FLAG_COLOR if r["flagged"] else OK_COLOR for r in rows], alpha=0.85)
    ax.errorbar(acc, y, xerr=[acc - low, high - acc], fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.axvline(100 * report["accuracy"], color="black", linestyle=":", linewidth=1, label="all images")
    if "baseline" in report:
        base = {r["class"]: r for r in report["baseline"]["difference"]["per_class"]}
        ax.scatter([a - 100 * base[r["class"]]["difference"]["mean"] for a, r in zip(acc, rows)], y,
                   marker="|", s=200, color=BASE_COLOR, label="baseline", zorder=3)
    ax.set_yticks(y, [r["class"] for r in rows])
    ax.set_xlabel("test accuracy (%), 95% interval; orange: flagged")
    ax.set_xlim(0, 100)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    return _save(fig, path)


def reliability_plot(report: dict[str, Any], path: Path) -> Path:
    """Accuracy against confidence per bin (the diagonal is perfect calibration), baseline dashed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, label="calibrated")
    curves = [("this model", report["calibration"], OK_COLOR, "-")]
    if "baseline" in report:
        curves.append(("baseline", report["baseline"]["calibration"], BASE_COLOR, "--"))
    for name, cal, color, style in curves:
        full = [b for b in cal["bins"] if b["count"]]
        ax.plot([b["confidence"] for b in full], [b["accuracy"] for b in full], marker="o", color=color,
                linestyle=style, label=f"{name} (ECE {100 * cal['ece']:.1f}%)")
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def summary(report: dict[str, Any]) -> str:
    """One line: accuracy, the worst class, what is flagged, calibration."""
    worst = next(r for r in report["per_class"] if r["class"] == report["worst_class"])
    flagged = [r["class"] for r in report["per_class"] if r["flagged"]]
    flagged += [f"{attr}={g['group']}" for attr, rows in report["groups"].items() for g in rows if g["flagged"]]
    line = (f"accuracy {_pct(report['accuracy'])} on {report['n']} images; worst class {worst['class']} "
            f"{_interval(worst['accuracy'])}; ")
    line += (f"flagged (more than {100 * report['margin']:.0f} points below the others): {', '.join(flagged)}; "
             if flagged else f"nothing more than {100 * report['margin']:.0f} points below the others; ")
    line += f"calibration error (ECE) {_pct(report['calibration']['ece'])}"
    if "baseline" in report:
        b = report["baseline"]
        line += (f"; vs baseline {_interval(b['difference']['overall'], signed=True)}, its worst class "
                 f"{b['worst_class']}, its ECE {_pct(b['calibration']['ece'])}")
    return line


def bias_section(report: dict[str, Any], pdir: Path, *, with_summary: bool = True) -> str:
    """HTML of the whole bias section (led by the summary line); its plots are written to `pdir`."""
    parts = [paragraph(summary(report), "answer")] if with_summary else []
    parts.append(figure(per_class_plot(report, pdir / "bias_per_class.png"),
                        "Accuracy (recall) per class with 95% intervals; orange classes are flagged."))
    base = {r["class"]: r["difference"] for r in report["baseline"]["difference"]["per_class"]} \
        if "baseline" in report else {}
    header = ["class", "images", "accuracy (95% interval)", "precision", "gap to the others (95% interval)",
              "flagged"] + (["vs baseline, paired (95% interval)"] if base else [])
    parts.append(table(header, [[r["class"], r["support"], _interval(r["accuracy"]), _pct(r["precision"]),
                                 _interval(r["gap"], signed=True), "yes" if r["flagged"] else ""]
                                + ([_interval(base[r["class"]], signed=True)] if base else [])
                                for r in report["per_class"]]))
    if base and report["baseline"]["difference"]["largest_drop"]:
        parts.append(paragraph(f"Largest per-class drop against the baseline: "
                               f"{report['baseline']['difference']['largest_drop']}."))
    for attr, rows in report["groups"].items():
        parts.append(f"<h3>Groups by {attr}</h3>")
        parts.append(table(["group", "images", "accuracy (95% interval)", "gap to the others (95% interval)",
                            "flagged"], [[g["group"], g["n"], _interval(g["accuracy"]), _interval(g["gap"], True),
                                          "yes" if g["flagged"] else ""] for g in rows]))
    parts.append(figure(reliability_plot(report, pdir / "bias_reliability.png"),
                        "Reliability: accuracy against confidence per bin; below the diagonal is overconfident."))
    return "\n".join(p for p in parts if p)


def write_bias_page(report: dict[str, Any], *, out: Path, title: str) -> Path:
    """`out/bias.html` (self-contained) with its PNGs in `out/plots/`; returns the page's path."""
    body = bias_section(report, out / "plots", with_summary=False)
    page = render(title=title, answer=summary(report), sections=[("Per class, per group, calibration", body)],
                  footer="Intervals: Student-t for an accuracy, bootstrap for a gap, paired t for a difference "
                         "between two models on the same images.")
    path = out / "bias.html"
    write_text(path, page)
    return path
