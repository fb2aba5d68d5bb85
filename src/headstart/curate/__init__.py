"""Choosing what to label from embeddings, and finding duplicates.

Strategies (`STRATEGIES`, one module each): `random`, `diverse` (k-center), `typical`
(TypiClust), `balanced` (equal picks per k-means cluster), `uncertain` (margin / entropy),
`combine` (weighted greedy blend). Duplicates: `near_duplicates` (cosine, chunked) and
`exact_duplicates` (content hash). API: `select`, `dedup`, `active_learning` (the CLI's
`headstart select` / `headstart dedup`).
"""

from headstart.config import api_function
from headstart.curate.base import Selection
from headstart.curate.config import ActiveConfig, DedupConfig, SelectConfig
from headstart.curate.dedup import DuplicateGroup, exact_duplicates, kept_rows, near_duplicates
from headstart.curate.registry import STRATEGIES


def _select(cfg: SelectConfig):
    from headstart.curate.selecting import run_select

    return run_select(cfg)


def _dedup(cfg: DedupConfig):
    from headstart.curate.deduping import run_dedup

    return run_dedup(cfg)


def _active(cfg: ActiveConfig):
    from headstart.curate.active import run_active

    return run_active(cfg)


select = api_function(SelectConfig, _select, "select",
                      "Pick `n` images to label from a run's embeddings; writes the CSV (rank, path, score, "
                      "strategy) and `<out>.png`, returns the CSV path.")
dedup = api_function(DedupConfig, _dedup, "dedup",
                     "Group near-duplicate (or, with exact, byte-identical) images; writes the CSV "
                     "(group, path, similarity), returns its path.")
active_learning = api_function(ActiveConfig, _active, "active_learning",
                               "Rounds of select + fine-tune on a pool whose labels are revealed only for "
                               "the picks; returns the rounds (also in <out>/rounds.json).")

__all__ = ["STRATEGIES", "ActiveConfig", "DedupConfig", "DuplicateGroup", "SelectConfig", "Selection",
           "active_learning", "dedup", "exact_duplicates", "kept_rows", "near_duplicates", "select"]
