"""`headstart list-models`: backbone names, `"<family>/<name>"`, by family."""

from __future__ import annotations

from headstart.models.factory import list_models
from headstart.models.family import FAMILIES

__all__ = ["by_family", "list_models"]


def by_family(*, family: str | None = None, filter: str | None = None) -> dict[str, list[str]]:
    """Model names (without the prefix) of each family, or of `family`; only those containing `filter`."""
    return {f: [n for n in list_models(family=f) if not filter or filter in n]
            for f in ([family] if family else FAMILIES.names())}
