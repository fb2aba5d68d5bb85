"""Choosing what to label from embeddings, and finding duplicates.

Strategies (`STRATEGIES`, one module each): `random`, `diverse` (k-center), `typical`
(TypiClust), `balanced` (equal picks per k-means cluster), `uncertain` (margin / entropy),
`combine` (weighted greedy blend). Duplicates: `near_duplicates` (cosine, chunked) and
`exact_duplicates` (content hash).
"""

from headstart.curate.base import Selection
from headstart.curate.dedup import DuplicateGroup, exact_duplicates, kept_rows, near_duplicates
from headstart.curate.registry import STRATEGIES

__all__ = ["STRATEGIES", "DuplicateGroup", "Selection", "exact_duplicates", "kept_rows", "near_duplicates"]
