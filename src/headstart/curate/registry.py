"""`STRATEGIES`: every selection strategy by name.

Each entry is `fn(embeddings (N, D), n, *, seed=0, exclude=None, probs=None, **options) ->
Selection`; options are keyword arguments with defaults (`uncertainty` for `uncertain` and
`combine`, `clusters` for `balanced`, `weights` for `combine`, `k`... for `typical`).

`choose` runs one by the CLI's name, blends included (`"diverse+uncertain"` with weights).

Example:
    >>> STRATEGIES.get("diverse")(emb, 100, exclude=labeled_idx).indices
"""

from __future__ import annotations

import torch

from headstart.curate.balanced import balanced
from headstart.curate.base import Selection, Strategy
from headstart.curate.combine import combine
from headstart.curate.diverse import diverse
from headstart.curate.random_ import random
from headstart.curate.typical import typical
from headstart.curate.uncertain import uncertain
from headstart.errors import HeadstartError
from headstart.registry import Registry

STRATEGIES: Registry[Strategy] = Registry("selection strategy")
STRATEGIES.register("random", random)
STRATEGIES.register("diverse", diverse)
STRATEGIES.register("typical", typical)
STRATEGIES.register("balanced", balanced)
STRATEGIES.register("uncertain", uncertain)
STRATEGIES.register("combine", combine)


def parse_strategy(strategy: str, weights: list[float] | None) -> tuple[str, dict]:
    """`"diverse+uncertain"` + weights -> ("combine", {"weights": {...}}); a single name -> (name, {})."""
    names = [s.strip() for s in strategy.split("+") if s.strip()]
    if len(names) == 1 and weights is None:
        STRATEGIES.get(names[0])  # unknown name -> HeadstartError listing the valid ones
        return names[0], {}
    weights = weights if weights is not None else [1.0] * len(names)
    if len(weights) != len(names):
        raise HeadstartError(
            f"--strategy {strategy} names {len(names)} strategies but --blend-weights gives {len(weights)} values",
            fix="pass one weight per strategy, e.g. --strategy diverse+uncertain --blend-weights 0.5 0.5",
        )
    return "combine", {"weights": dict(zip(names, weights, strict=True))}


def needs_probs(name: str, options: dict) -> bool:
    """Whether the strategy reads class probabilities (combine's default blend does)."""
    if name == "combine":
        return options.get("weights", {"uncertain": 1.0}).get("uncertain", 0) > 0
    return name == "uncertain"


def choose(
    emb: torch.Tensor,
    n: int,
    strategy: str,
    weights: list[float] | None,
    *,
    seed: int = 0,
    exclude: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
    uncertainty: str = "margin",
) -> Selection:
    """Run a (possibly blended) strategy on embeddings; `probs` only where it needs them."""
    name, options = parse_strategy(strategy, weights)
    if name in ("uncertain", "combine"):
        options["uncertainty"] = uncertainty
    return STRATEGIES.get(name)(emb, n, seed=seed, exclude=exclude, probs=probs, **options)
