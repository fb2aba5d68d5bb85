"""`headstart list-methods`: pretraining methods, what each is, and its hyper-parameters."""

from __future__ import annotations

import importlib

from headstart.methods import list_methods, method_class

__all__ = ["describe", "list_methods"]


def describe(name: str) -> tuple[str, dict[str, object]]:
    """A method's one-line summary (its module's docstring) and its hyper-parameter defaults."""
    cls = method_class(name)
    doc = (importlib.import_module(cls.__module__).__doc__ or "").strip().splitlines()
    return (doc[0] if doc else ""), {k: f.default for k, f in cls.config_cls.model_fields.items()}
