"""The study report's bias section: from scratch vs pretrained, per class and in calibration.

At one budget (1% when the study has it, else its smallest) the pretrained strategy is the one
with the best paired VALIDATION gain there (`eval.gains.choose`), never the best on test. Every
seed of that strategy and of from scratch is kept (no seed is picked): the seeds' test
predictions are pooled, row i of one arm and row i of the other being the same image under the
same seed and label subset, so per-class differences stay paired (`eval.bias.compare`). The
figures come from the probabilities each cell saved (`test_probs.npz`, see
`commands/study/cells.py`); a study whose cells saved none gets no section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.eval.bias import bias_report
from headstart.eval.gains import choose, curve_name
from headstart.io import write_json
from headstart.report import html
from headstart.report.bias import _interval, _pct, bias_section

PREFERRED = "1%"


def bias_budget(gains: list[dict[str, Any]]) -> str | None:
    """1% when a pretrained curve has it, else the budget with the fewest labels."""
    rows = [g for g in gains if g["curve"].startswith("pretrained/")]
    if any(g["budget"] == PREFERRED for g in rows):
        return PREFERRED
    return min(rows, key=lambda g: g["labels"])["budget"] if rows else None


def _pooled(cells: list[dict[str, Any]], curve: str, budget: str, seeds: list[int]
            ) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
    """Probabilities and targets of `curve` at `budget`, seeds in order, stacked; None if one is missing."""
    by_seed = {c["seed"]: c for c in cells if curve_name(c) == curve and c["budget"] == budget}
    probs, targets, classes = [], [], None
    for seed in seeds:
        path = by_seed.get(seed, {}).get("test_probs")
        if path is None or not Path(path).is_file():
            return None
        with np.load(path) as f:
            probs.append(torch.from_numpy(f["probs"].astype(np.float32)))
            targets.append(torch.from_numpy(f["targets"].astype(np.int64)))
            classes = [str(c) for c in f["classes"]]
    return torch.cat(probs), torch.cat(targets), classes


def study_bias(results: dict[str, Any]) -> dict[str, Any] | None:
    """`eval.bias.bias_report` of the validation-chosen pretrained strategy against from scratch at
    `bias_budget`, seeds pooled, plus {"study": which cells}; None without validation or saved
    probabilities."""
    gains = results.get("gains") or []
    budget = bias_budget(gains)
    chosen = choose(gains, budget=budget) if budget else None
    if chosen is None or chosen["budget"] != budget:
        return None
    ours = _pooled(results["cells"], chosen["curve"], budget, chosen["seeds"])
    base = _pooled(results["cells"], chosen["baseline"], budget, chosen["seeds"])
    if ours is None or base is None or not torch.equal(ours[1], base[1]) or ours[2] != base[2]:
        return None
    report = bias_report(ours[0], ours[1], ours[2], baseline=base[0])
    report["study"] = {"curve": chosen["curve"], "baseline": chosen["baseline"], "budget": budget,
                       "labels": chosen["labels"], "seeds": chosen["seeds"], "val_gain": chosen["val_gain"]}
    return report


def _accuracy_of(report: dict[str, Any], name: str, baseline: bool) -> float:
    row = next(r for r in report["per_class"] if r["class"] == name)
    if not baseline:
        return row["accuracy"]["mean"]
    diff = next(r for r in report["baseline"]["difference"]["per_class"] if r["class"] == name)
    return row["accuracy"]["mean"] - diff["difference"]["mean"]


def headline(report: dict[str, Any]) -> str:
    """Worst class of each arm, the largest per-class drop, ECE from scratch -> pretrained."""
    s, b = report["study"], report["baseline"]
    worst, base_worst = report["worst_class"], b["worst_class"]
    drop = b["difference"]["largest_drop"]
    drop_text = "no class lost accuracy" if drop is None else (
        f"largest per-class drop: {drop} "
        + _interval(next(r for r in b["difference"]["per_class"] if r["class"] == drop)["difference"], signed=True))
    return (f"At {s['labels']:,} labels ({s['budget']}), {s['curve']} (chosen on validation) vs {s['baseline']}, "
            f"{len(s['seeds'])} seed(s) pooled: worst class from scratch {base_worst} "
            f"({_pct(_accuracy_of(report, base_worst, True))}), pretrained {worst} "
            f"({_pct(_accuracy_of(report, worst, False))}); {drop_text}; calibration error (ECE) "
            f"{_pct(b['calibration']['ece'])} from scratch -> {_pct(report['calibration']['ece'])} pretrained.")


def bias_part(results: dict[str, Any], out: Path, pdir: Path) -> str:
    """The section's HTML ("" when `study_bias` has nothing); its figures also go to `out/bias.json`."""
    report = study_bias(results)
    if report is None:
        return ""
    write_json(out / "bias.json", report)
    how = ("Per-class accuracy (= recall) of the pretrained model, its gap to the other classes, and the paired "
           "difference to from scratch on the same test images and seeds (grey ticks: from scratch). Intervals "
           "treat the pooled predictions as independent, so they are narrower than intervals over seeds.")
    return html.paragraph(headline(report), "answer") + html.paragraph(how) + bias_section(
        report, pdir, with_summary=False)
