"""Choosing what to label from embeddings, and finding duplicates.

Strategies (`registry.STRATEGIES`, one module each): `random`, `diverse` (k-center), `typical`
(TypiClust), `balanced` (equal picks per k-means cluster), `uncertain` (margin / entropy),
`combine` (weighted greedy blend). Duplicates (`dedup`): `near_duplicates` (cosine, chunked) and
`exact_duplicates` (content hash). The `select` / `dedup` / `active` commands that use them are
in `headstart.commands`.
"""
