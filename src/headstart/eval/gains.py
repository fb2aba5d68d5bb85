"""From the study's cell records to its answer: curves, paired gains and label savings, honestly.

A record is one fine-tuning cell: {start, strategy, budget, seed, labels, accuracy (test),
val_accuracy, seconds, ...}; a detection or segmentation cell names its score in `metric` ("map",
"miou") and carries it and `val_<metric>` instead of the accuracies (`score`, `val_score`). Cells
of the same budget and seed train on the same labeled subset (and validate on the same held-out part
of it), so the gain of a start over from-scratch training is a paired difference per seed
(`eval.stats.paired_difference`).

What the answer may claim:
- a gain or a loss only when its paired 95% interval excludes zero; with one seed there is no
  interval, and the line says one seed cannot show significance;
- a label saving only where the curves' intervals support it (`saving`);
- the strategy and budget it highlights are chosen on validation accuracy, never on test accuracy;
  without validation accuracy in the records it picks nothing and lists every cell.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

from headstart.eval.stats import mean_ci, paired_difference

BASELINE = "scratch/full"   # from-scratch training always fine-tunes fully
MIN_FACTOR = 1.1            # a saving below 1.1x is not reported: it would print as "1.0x"
START_NAMES = {"pretrained": "pretraining", "baseline": "the baseline weights", "tfidf": "TF-IDF"}
REFERENCE = "tfidf/logreg"  # text studies: TF-IDF + logistic regression on the same labels, the classic baseline
METRIC_NAMES = {"accuracy": "accuracy", "map50": "mAP@0.5", "map": "mAP@0.5:0.95", "miou": "mIoU",
                "pixel_accuracy": "pixel acc"}  # display names of the score keys


def metric_key(record: dict[str, Any]) -> str:
    """The record's score key: "accuracy" for classification (records written before dense studies
    carry no `metric`), "map" / "miou" for detection / segmentation."""
    return record.get("metric", "accuracy")


def score(record: dict[str, Any]) -> float:
    """The cell's test score (accuracy, mAP@0.5:0.95 or mIoU, a fraction)."""
    return record[metric_key(record)]


def val_score(record: dict[str, Any]) -> float | None:
    """The cell's validation score, None when it has none."""
    return record.get(f"val_{metric_key(record)}")


def metric_name(records: list[dict[str, Any]]) -> str:
    """The study's score in words ("accuracy", "mAP@0.5:0.95", "mIoU")."""
    return METRIC_NAMES[metric_key(records[0])] if records else "accuracy"


def curve_name(record: dict[str, Any]) -> str:
    """`start/strategy`, with `+semi` when the cell also trained on the unlabeled pool."""
    semi = record.get("semi")
    return f"{record['start']}/{record['strategy']}" + (f"+{semi}" if semi else "")


def baseline_of(curve: str) -> str:
    """What `curve` is measured against: from scratch under the same recipe (full fine-tuning, the
    same semi-supervision); for from scratch + semi, plain from scratch (what the unlabeled pool adds)."""
    semi = curve.partition("+")[2]
    return BASELINE + (f"+{semi}" if semi and not curve.startswith("scratch/") else "")


def curves(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`curve name` -> points sorted by labels, one per budget: {budget, labels, mean, low, high, ci
    (half-width; None with one seed), n, values, seeds, val_mean (None without val_accuracy), seconds}."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(curve_name(r), r["budget"])].append(r)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (curve, budget), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        test = mean_ci([score(r) for r in rs])
        vals = [val_score(r) for r in rs]
        out[curve].append({"budget": budget, "labels": round(sum(r["labels"] for r in rs) / len(rs)),
                           "mean": test.mean, "low": test.low, "high": test.high, "ci": test.half_width,
                           "n": test.n, "values": [score(r) for r in rs], "seeds": [r["seed"] for r in rs],
                           "val_mean": None if None in vals else math.fsum(vals) / len(vals),
                           "seconds": round(sum(r["seconds"] for r in rs), 1)})
    return {k: sorted(v, key=lambda p: p["labels"]) for k, v in sorted(out.items())}


def paired_gains(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (curve, budget): the paired test-accuracy gain over its from-scratch curve, seeds matched.

    Returns rows {curve, budget, labels, gain, low, high, n, seeds, significant (None with one seed),
    mean, scratch_mean, val_gain and val_low (its lower 95% bound; None without val_accuracy)},
    sorted by labels then curve.
    """
    cell = {(curve_name(r), r["budget"], r["seed"]): r for r in records}
    rows = [row for curve, budget in sorted({(c, b) for c, b, _ in cell if c != BASELINE})
            if (row := _paired(cell, curve, baseline_of(curve), budget)) is not None]
    return sorted(rows, key=lambda r: (r["labels"], r["curve"]))


def versus(records: list[dict[str, Any]], curve: str, other: str, budget: str) -> dict[str, Any] | None:
    """The paired gain of `curve` over any `other` curve at `budget` (a `paired_gains` row whose
    baseline is `other`), seeds matched; None without common seeds."""
    cell = {(curve_name(r), r["budget"], r["seed"]): r for r in records}
    return _paired(cell, curve, other, budget)


def _paired(cell: dict[tuple, dict[str, Any]], curve: str, base: str, budget: str) -> dict[str, Any] | None:
    seeds = sorted(s for c, b, s in cell if (c, b) == (curve, budget) and (base, budget, s) in cell)
    if not seeds:
        return None
    ours, ref = [cell[(curve, budget, s)] for s in seeds], [cell[(base, budget, s)] for s in seeds]
    d = paired_difference([score(r) for r in ours], [score(r) for r in ref])
    has_val = all(val_score(r) is not None for r in ours + ref)
    val = paired_difference([val_score(r) for r in ours], [val_score(r) for r in ref]) if has_val else None
    return {"curve": curve, "baseline": base, "budget": budget,
            "labels": round(sum(r["labels"] for r in ours) / len(ours)),
            "gain": d.mean, "low": d.low, "high": d.high, "n": d.n, "seeds": seeds,
            "significant": d.excludes_zero if d.n > 1 else None,
            "mean": math.fsum(score(r) for r in ours) / len(ours),
            "scratch_mean": math.fsum(score(r) for r in ref) / len(ref),
            "val_gain": None if val is None else val.mean,
            "val_low": None if val is None else val.low}


def labels_to_match(scratch: list[dict[str, Any]], accuracy: float) -> tuple[float, str]:
    """The fewest labels at which the from-scratch curve's UPPER 95% bound reaches `accuracy`.

    The bound is interpolated linearly in log(labels) between measured budgets; the first crossing
    from the left is taken. Returns (labels, relation): "=" a crossing inside the measured range,
    "<" already reached at the smallest budget, ">" not reached by the largest (labels = largest).
    """
    pts = [(p["labels"], p["high"]) for p in scratch]
    if pts[0][1] >= accuracy:
        return float(pts[0][0]), "<"
    for (n0, h0), (n1, h1) in itertools.pairwise(pts):
        if h1 >= accuracy:
            t = (accuracy - h0) / (h1 - h0)
            return math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))), "="
    return float(pts[-1][0]), ">"


def saving(all_curves: dict[str, list[dict[str, Any]]], curve: str, budget: str) -> dict[str, Any] | None:
    """The labels `curve` saves at `budget`, conservatively, or None when the intervals do not show one.

    Let L be the LOWER 95% bound of `curve` at `budget` (n labels) and n* = `labels_to_match` of the
    from-scratch curve's upper bound for L. Scratch's optimistic accuracy stays below the start's
    pessimistic one up to n* labels, so the saving is at least n*/n ("more than" when scratch's bound
    never reaches L). Shown only when that factor is at least `MIN_FACTOR`; never with one seed.
    """
    point = next((p for p in all_curves.get(curve, []) if p["budget"] == budget), None)
    scratch = all_curves.get(baseline_of(curve), [])
    if point is None or point["low"] is None or not scratch or any(p["high"] is None for p in scratch):
        return None
    needed, relation = labels_to_match(scratch, point["low"])
    factor = needed / max(1, point["labels"])
    if relation == "<" or factor < MIN_FACTOR:
        return None
    return {"curve": curve, "budget": budget, "labels": point["labels"], "bound": point["low"],
            "scratch_labels": round(needed), "relation": relation, "factor": factor}


def choose(gains: list[dict[str, Any]], *, start: str = "pretrained", budget: str | None = None
           ) -> dict[str, Any] | None:
    """The gains row the answer highlights, chosen on VALIDATION accuracy only.

    Per budget the strategy with the largest paired validation gain over its from-scratch curve
    (without semi-supervision all share one scratch arm: the best validation accuracy); then `budget` if given, else the
    budget where that validation gain is surest: the highest lower 95% bound (the mean with one
    seed), so a small budget's few validation images do not win by noise. None when a candidate row
    lacks validation accuracy: then nothing is picked.
    """
    rows = [g for g in gains if g["curve"].startswith(f"{start}/")]
    if not rows or any(g["val_gain"] is None for g in rows):
        return None
    best: dict[str, dict[str, Any]] = {}
    for g in rows:
        if g["budget"] not in best or g["val_gain"] > best[g["budget"]]["val_gain"]:
            best[g["budget"]] = g
    if budget in best:
        return best[budget]
    return max(best.values(), key=lambda g: g["val_gain"] if g["val_low"] is None else g["val_low"])


def describe(row: dict[str, Any]) -> str:
    """One gains row in words, claiming only what its interval supports."""
    who, ref = _who(row["curve"]), _who(row["baseline"]).replace(" + full", "", 1)
    at = f"{row['labels']:,} labels"
    points = f"{100 * row['gain']:+.1f} points"
    if row["n"] == 1:
        return (f"at {at}, {who}: {points} over {ref} (1 seed: no interval; one seed cannot show "
                "significance)")
    ci = f"95% CI {100 * row['low']:+.1f} to {100 * row['high']:+.1f}, {row['n']} seeds"
    if not row["significant"]:
        return f"no significant difference at {at} between {who} and {ref} ({points}, {ci})"
    said = f"beats {ref} by {points}" if row["gain"] > 0 else f"is worse than {ref} by {-100 * row['gain']:.1f} points"
    return f"at {at}, {who} {said} ({ci}; {row['mean']:.1%} vs {row['scratch_mean']:.1%})"


def answer_line(all_curves: dict[str, list[dict[str, Any]]], gains: list[dict[str, Any]],
                chosen: dict[str, Any] | None, metric: str = "accuracy") -> str:
    """The study's answer in one sentence: the chosen row (or every row when nothing was chosen),
    its label saving where the intervals support one, and how the row was chosen (`metric`: the
    score in words)."""
    if not gains:
        return "no answer: the study needs from-scratch and pretrained cells at the same budgets and seeds"
    if chosen is None:
        every = "; ".join(describe(g) for g in gains)
        line = f"every cell (no validation {metric} in the records, so nothing was picked): {every}"
    else:
        line = describe(chosen)
        if chosen["significant"] and chosen["gain"] > 0 and (s := saving(all_curves, chosen["curve"],
                                                                           chosen["budget"])):
            more = "more than" if s["relation"] == ">" else "at least"
            line += (f", and saves {more} {s['factor']:.1f}x labels (its lower 95% bound, {s['bound']:.1%}, "
                     f"is above scratch's upper bound up to {s['scratch_labels']:,} labels)")
        strategy = chosen["curve"].partition("/")[2]
        line += f"; {strategy} and {chosen['labels']:,} labels chosen by validation {metric}"
    falls = _falls(all_curves.get(BASELINE, []))
    if falls:
        line += (f"; note: from scratch lost {metric} with more labels (at {', '.join(falls)}), so its cells "
                 "look undertrained: give them more --finetune-steps before trusting the gain")
    return line


def summarize(records: list[dict[str, Any]], *, budget: str | None = None) -> dict[str, Any]:
    """What the study command writes to results.json: {answer, curves, gains, chosen, savings, reference,
    metric (the score in words)}.

    Args:
        records: every cell's record (see the module docstring).
        budget: highlight this budget (e.g. the demo's fixed "1%"), else the one validation picks.
    """
    all_curves = curves(records)
    gains = paired_gains(records)
    chosen = choose(gains, budget=budget)
    savings = [s for g in gains if (s := saving(all_curves, g["curve"], g["budget"]))]
    metric = metric_name(records)
    answer = answer_line(all_curves, gains, chosen, metric)
    reference = versus(records, chosen["curve"], REFERENCE, chosen["budget"]) \
        if chosen and REFERENCE in all_curves else None
    if reference is not None:  # text: what the pretrained model adds over the classic baseline
        answer += f"; against the classic baseline: {describe(reference)}"
    if chosen and "+" in chosen["curve"] and (both := versus(records, chosen["curve"], BASELINE, chosen["budget"])):
        answer += f"; pretraining and the unlabeled pool together, against plain from scratch: {describe(both)}"
    return {"answer": answer, "curves": all_curves, "gains": gains, "chosen": chosen, "savings": savings,
            "reference": reference, "metric": metric}


def format_point(point: dict[str, Any]) -> str:
    """A curve point for a table: "84.1% ± 0.6%", or "84.1% (1 seed)" without an interval."""
    if point["ci"] is None:
        return f"{point['mean']:.1%} (1 seed)"
    return f"{point['mean']:.1%} ± {point['ci']:.1%}"


def _who(curve: str) -> str:
    start, _, strategy = curve.partition("/")
    return f"{START_NAMES.get(start, start)} + {strategy.replace('+', ' + ')}"


def _falls(scratch: list[dict[str, Any]]) -> list[str]:
    return [q["budget"] for p, q in itertools.pairwise(scratch) if q["mean"] < p["mean"]]
