"""`STRATEGIES`: every selection strategy by name.

Each entry is `fn(embeddings (N, D), n, *, seed=0, exclude=None, probs=None, **options) ->
Selection`; options are keyword arguments with defaults (`uncertainty` for `uncertain` and
`combine`, `clusters` for `balanced`, `weights` for `combine`, `k`... for `typical`).

Example:
    >>> STRATEGIES.get("diverse")(emb, 100, exclude=labeled_idx).indices
"""

from __future__ import annotations

from headstart.curate.balanced import balanced
from headstart.curate.base import Strategy
from headstart.curate.combine import combine
from headstart.curate.diverse import diverse
from headstart.curate.random_ import random
from headstart.curate.typical import typical
from headstart.curate.uncertain import uncertain
from headstart.registry import Registry

STRATEGIES: Registry[Strategy] = Registry("selection strategy")
STRATEGIES.register("random", random)
STRATEGIES.register("diverse", diverse)
STRATEGIES.register("typical", typical)
STRATEGIES.register("balanced", balanced)
STRATEGIES.register("uncertain", uncertain)
STRATEGIES.register("combine", combine)
