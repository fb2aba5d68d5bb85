"""Build argparse sub-commands from configs, so the CLI and the Python API share names."""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from pydantic.fields import FieldInfo

from headstart.config import RENAMED_KEYS, Config, field_groups, flag
from headstart.errors import EXIT_USER_ERROR, HeadstartError, did_you_mean


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
        return [c for choices in found for c in choices] if found and only_literals else None
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


class Parser(argparse.ArgumentParser):
    """argparse that answers a usage error in one line, `headstart CMD: error: ...`, exit 2."""

    def error(self, message: str) -> NoReturn:
        choice = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:  # a mistyped command: the closest ones, not all of them
            valid = re.findall(r"'([^']*)'", choice.group(3))
            message = f"unknown {choice.group(1).lower()} {choice.group(2)!r}; {did_you_mean(choice.group(2), valid)}"
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


def unknown_flags_message(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """`unknown option --stepz; did you mean --steps?` for arguments no option took."""
    known = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    flags = [a for a in extras if a.startswith("-")]
    if not flags:
        return f"unexpected argument {extras[0]!r}; options are written --name VALUE"
    name = flags[0].split("=", 1)[0]
    renamed = RENAMED_KEYS.get(name.lstrip("-").replace("-", "_"))
    close = [flag(renamed)] if renamed and flag(renamed) in known else difflib.get_close_matches(name, known, n=1,
                                                                                               cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"see `{parser.prog} --help`"
    return f"unknown option {name}; {hint}"


def add_options(parser: argparse.ArgumentParser, command: Command) -> None:
    """The command's own options first, then one group per inherited options class, then the
    config-file options."""
    assert not {"config_file", "print_config"} & set(command.config.model_fields)
    for cls, keys in field_groups(command.config):
        title = (cls.__doc__ or "").strip().splitlines()[0] if cls is not command.config else None
        group = parser.add_argument_group(title) if title else parser
        for key in keys:
            _add_option(group, key, command.config.model_fields[key], positional=key in command.positional)
    group = parser.add_argument_group("config file")
    group.add_argument("--config", dest="config_file", metavar="FILE", default=argparse.SUPPRESS,
                       help="read options from a YAML file of the same keys (a run's config.yaml re-runs it); "
                       "options given on the command line win; --resume/--overwrite are never read from it")
    group.add_argument("--print-config", action="store_true", default=argparse.SUPPRESS,
                       help="print the config from the file and the options as YAML, and exit")


def _add_option(parser: argparse.ArgumentParser, key: str, field: FieldInfo, positional: bool) -> None:
    kind = _kind(field.annotation)
    help_ = (field.description or "") + _default_text(field)
    help_ = help_.replace("%", "%%")
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


def _default_text(field: FieldInfo) -> str:
    """` (default: 256)`; nothing for an unset default (its description says what unset means)."""
    if field.is_required():
        return " (required)"
    value = field.default
    if value is None or value == {} or value == []:
        return ""
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return f" (default: {shown})"


def values_from_args(ns: argparse.Namespace, command: Command) -> dict[str, Any]:
    values = {k: v for k, v in vars(ns).items() if k in command.config.model_fields and v is not None}
    for key, value in list(values.items()):
        if _kind(command.config.model_fields[key].annotation) == "dict":
            values[key] = _key_values(value)
    return values
