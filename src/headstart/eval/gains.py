"""From cell results to the study's answer: curves with confidence intervals, and label savings.

Savings at a budget: how many labels training from scratch needs to reach the pretrained
model's accuracy (log-linear interpolation on the scratch curve), divided by the labels the
pretrained model used.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from headstart.eval.metrics import mean_and_ci


def curves(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`"start/strategy"` -> points sorted by labels: {budget, labels, mean, ci, values, seconds}."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(f"{r['start']}/{r['strategy']}", r["budget"])].append(r)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (curve, budget), rs in groups.items():
        accs = [r["accuracy"] for r in rs]
        mean, ci = mean_and_ci(accs) if len(accs) > 1 else (accs[0], 0.0)
        out[curve].append({"budget": budget, "labels": round(sum(r["labels"] for r in rs) / len(rs)),
                           "mean": mean, "ci": ci, "values": accs, "seconds": sum(r["seconds"] for r in rs)})
    return {k: sorted(v, key=lambda p: p["labels"]) for k, v in sorted(out.items())}


def labels_needed(scratch: list[dict[str, Any]], accuracy: float) -> tuple[float, str]:
    """Labels from-scratch training needs for `accuracy`: (estimate, relation) with relation
    "=" (interpolated), ">" (beyond the largest budget tried) or "<" (below the smallest)."""
    pts = [(p["labels"], p["mean"]) for p in scratch]
    if accuracy > max(a for _, a in pts):
        return float(pts[-1][0]), ">"
    if accuracy <= pts[0][1]:
        return float(pts[0][0]), "<"
    for (n0, a0), (n1, a1) in zip(pts, pts[1:]):
        if a0 < accuracy <= a1 and a1 > a0:
            t = (accuracy - a0) / (a1 - a0)
            return math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))), "="
    best = max(pts, key=lambda p: p[1])   # scratch curve not monotone: first budget that reaches it
    return float(next(n for n, a in pts if a >= accuracy) if any(a >= accuracy for _, a in pts) else best[0]), "="


def savings(all_curves: dict[str, list[dict[str, Any]]], start: str = "pretrained") -> list[dict[str, Any]]:
    """Per budget: the best strategy from `start`, its accuracy, and the label savings vs scratch."""
    scratch = all_curves.get("scratch/full")
    ours = {k: v for k, v in all_curves.items() if k.startswith(f"{start}/")}
    if not scratch or not ours:
        return []
    falls = [q["budget"] for p, q in zip(scratch, scratch[1:]) if q["mean"] < p["mean"]]
    rows = []
    for budget in [p["budget"] for p in scratch]:
        best = max((p | {"curve": k} for k, v in ours.items() for p in v if p["budget"] == budget),
                   key=lambda p: p["mean"], default=None)
        base = next(p for p in scratch if p["budget"] == budget)
        if best is None:
            continue
        needed, rel = labels_needed(scratch, best["mean"])
        rows.append({"budget": budget, "labels": best["labels"], "curve": best["curve"], "mean": best["mean"],
                     "ci": best["ci"], "scratch_mean": base["mean"], "scratch_ci": base["ci"],
                     "scratch_labels_needed": round(needed), "relation": rel,
                     "factor": needed / max(1, best["labels"]), "scratch_falls": falls})
    return rows


def one_line(rows: list[dict[str, Any]]) -> str:
    """The study's answer in one sentence, with the numbers behind it."""
    if not rows:
        return "no answer: the study needs from-scratch and pretrained cells at the same budgets"
    r = max(rows, key=lambda x: x["factor"] if x["relation"] != "<" else 0)
    gain = (r["mean"] - r["scratch_mean"]) * 100
    if r["factor"] <= 1.0 or gain <= 0:
        return (f"pretraining did not beat training from scratch here: best gain {gain:+.1f} points "
                f"at {r['labels']:,} labels ({r['mean']:.1%} vs {r['scratch_mean']:.1%})")
    more = "more than " if r["relation"] == ">" else ""
    caveat = ""
    if r.get("scratch_falls"):
        caveat = (f"; but from scratch lost accuracy with more labels (at {', '.join(r['scratch_falls'])}), so its "
                  "cells look undertrained: give them more --finetune-steps before trusting the saving")
    return (f"pretraining saves {more}{r['factor']:.1f}x labels: with {r['labels']:,} labels it matches "
            f"from-scratch with {more}{r['scratch_labels_needed']:,} ({r['curve']}: {r['mean']:.1%} ± {r['ci']:.1%} "
            f"vs scratch {r['scratch_mean']:.1%} ± {r['scratch_ci']:.1%} at the same budget, {gain:+.1f} points)"
            + caveat)
