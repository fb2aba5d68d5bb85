"""A study's cell records, as the study command writes them: Fashion-MNIST shaped figures.

Three budgets (10/class = 100, 1% = 600, 10% = 6,000 labels, 10% of each held out for validation,
so 10 / 60 / 600 validation images), seeds 0-2, from scratch (full) and pretrained (linear, lp-ft,
full). The 600-label scratch and pretrained-full test figures are the README's measured seeds
(83.4 / 82.8 / 83.0 and 86.4 / 85.9 / 85.9). At 600 labels lp-ft is best on TEST and full on
VALIDATION, so a choice made on test would differ from the honest one.
"""

from __future__ import annotations

from typing import Any

BUDGETS = {"10/class": 100, "1%": 600, "10%": 6000}
# (start, strategy) -> budget -> (test accuracies of seeds 0, 1, 2; validation accuracies)
FIGURES = {
    ("scratch", "full"): {"10/class": ([0.652, 0.671, 0.660], [0.6, 0.7, 0.6]),
                          "1%": ([0.834, 0.828, 0.830], [0.817, 0.800, 0.833]),
                          "10%": ([0.871, 0.868, 0.874], [0.872, 0.865, 0.870])},
    ("pretrained", "full"): {"10/class": ([0.712, 0.725, 0.709], [0.7, 0.7, 0.8]),
                             "1%": ([0.864, 0.859, 0.859], [0.867, 0.850, 0.883]),
                             "10%": ([0.889, 0.887, 0.892], [0.890, 0.885, 0.893])},
    ("pretrained", "lp-ft"): {"10/class": ([0.731, 0.722, 0.728], [0.8, 0.7, 0.6]),
                              "1%": ([0.861, 0.866, 0.868], [0.850, 0.833, 0.867]),
                              "10%": ([0.885, 0.886, 0.889], [0.884, 0.887, 0.890])},
    ("pretrained", "linear"): {"10/class": ([0.705, 0.699, 0.711], [0.7, 0.6, 0.7]),
                               "1%": ([0.823, 0.829, 0.820], [0.800, 0.817, 0.800]),
                               "10%": ([0.845, 0.843, 0.848], [0.846, 0.840, 0.849])},
}


def study_records(*, seeds: int = 3, with_val: bool = True, run_root: str = "/nonexistent") -> list[dict[str, Any]]:
    """One record per cell, the first `seeds` seeds; without `val_accuracy` when `with_val` is False."""
    out = []
    for (start, strategy), by_budget in FIGURES.items():
        for budget, (test, val) in by_budget.items():
            for seed in range(seeds):
                slug = budget.replace("/class", "pc").replace("%", "pct")
                cell_id = f"{start}-{strategy}-{slug}-s{seed}"
                record = {"start": start, "strategy": strategy, "budget": budget, "seed": seed, "id": cell_id,
                          "accuracy": test[seed], "labels": BUDGETS[budget], "seconds": 20.0 + seed,
                          "run": f"{run_root}/finetune/{cell_id}"}
                if with_val:
                    record["val_accuracy"] = val[seed]
                out.append(record)
    return out
