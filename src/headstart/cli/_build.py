"""Build argparse sub-commands from configs, so the CLI and the Python API share names."""

from __future__ import annotations

import argparse
import importlib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic.fields import FieldInfo

from headstart.config import Config, field_groups, flag


@dataclass(frozen=True)
class Command:
    """One sub-command: its config and the `module:function` that runs it (imported lazily)."""

    name: str
    config: type[Config]
    target: str
    help: str
    positional: tuple[str, ...] = ()

    def run(self, cfg: Config) -> Any:
        module, _, fn = self.target.partition(":")
        return getattr(importlib.import_module(module), fn)(cfg)


def _choices(annotation: Any) -> list[str] | None:
    """Literal choices of a field (through Optional/Union), for --help and early checks."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in args]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [c for a in args if (c := _choices(a))]
        only_literals = all(typing.get_origin(a) is Literal or a is type(None) for a in args)
        return sum(found, []) if found and only_literals else None
    return None


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return "bool"
    if origin in (dict,) or annotation is dict:
        return "dict"
    if origin in (list, tuple):
        return "list"
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return "list" if "list" in kinds else "scalar"
    return "scalar"


def _key_values(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; a VALUE is read as YAML (numbers, lists, true/false), else kept as text."""
    import yaml

    from headstart.errors import HeadstartError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HeadstartError(f"expected KEY=VALUE, got {item!r}", fix="write it as e.g. temperature=0.1")
        try:
            out[key.replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.replace("-", "_")] = value
    return out


def add_options(parser: argparse.ArgumentParser, command: Command) -> None:
    """The command's own options first, then one group per inherited options class."""
    for cls, keys in field_groups(command.config):
        title = (cls.__doc__ or "").strip().splitlines()[0] if cls is not command.config else None
        group = parser.add_argument_group(title) if title else parser
        for key in keys:
            _add_option(group, key, command.config.model_fields[key], positional=key in command.positional)


def _add_option(parser: argparse.ArgumentParser, key: str, field: FieldInfo, positional: bool) -> None:
    kind = _kind(field.annotation)
    default = "required" if field.is_required() else f"default: {field.default!r}"
    help_ = f"{field.description or ''} ({default})".replace("%", "%%")
    names = [key] if positional else [flag(key)]
    kw: dict[str, Any] = {"help": help_, "default": argparse.SUPPRESS}
    if kind == "bool":
        kw["action"] = argparse.BooleanOptionalAction
    elif kind == "dict":
        kw.update(nargs="+", metavar="KEY=VALUE")
    elif kind == "list":
        kw.update(nargs="+", metavar=key.upper())
    else:
        choices = _choices(field.annotation)
        kw["metavar"] = "{" + ",".join(choices) + "}" if choices else key.rstrip("_").upper()
    if positional:
        kw.pop("default")
        kw["nargs"] = "?" if not field.is_required() else None
    parser.add_argument(*names, dest=key, **kw)


def values_from_args(ns: argparse.Namespace, command: Command) -> dict[str, Any]:
    values = {k: v for k, v in vars(ns).items() if k in command.config.model_fields and v is not None}
    for key, value in list(values.items()):
        if _kind(command.config.model_fields[key].annotation) == "dict":
            values[key] = _key_values(value)
    return values
