"""Typed configs: the one source of every option's name, type, default and help.

Each command has one pydantic config (`extra="forbid"`). The Python API and the CLI are both
generated from it (`api_function`, `headstart.cli`), so a name is written once. `"auto"`
values are resolved by the command in one place and the resolved config is saved in the run.
Config modules import no torch, so `headstart --help` starts fast.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from headstart.errors import HeadstartError, did_you_mean

C = TypeVar("C", bound="Config")

# What to do with an existing --out: said on each command line, never taken from a file (a run's
# saved config.yaml carries them, and fed back it must neither clobber nor continue a folder).
RUN_ACTIONS = ("resume", "overwrite")
# Keys renamed since a run folder could have saved them: old name -> new name.
RENAMED_KEYS = {"strategy": "distributed"}


class Config(BaseModel):
    """Base of every config: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def flag(name: str) -> str:
    """`batch_size` -> `--batch-size`; a trailing `_` (a Python keyword, `from_`) is dropped: `--from`."""
    return "--" + name.rstrip("_").replace("_", "-")


def field_groups(cls: type[Config]) -> list[tuple[type, list[str]]]:
    """Fields grouped by the class that declares them, the command's own first."""
    done: set[str] = set()
    out = []
    for klass in cls.__mro__:
        own = [k for k in getattr(klass, "__annotations__", {}) if k in cls.model_fields and k not in done]
        if own:
            out.append((klass, own))
            done.update(own)
    return out


def parse(cls: type[C], values: dict[str, Any]) -> C:
    """Validate `values` into `cls`, turning pydantic's report into one clear line."""
    try:
        return cls(**values)
    except ValidationError as err:
        raise HeadstartError(_explain(cls, err)) from None


def _explain(cls: type[Config], err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        key = str(e["loc"][0]) if e["loc"] else "?"
        if e["type"] == "missing":
            desc = cls.model_fields[key].description if key in cls.model_fields else ""
            parts.append(f"missing {flag(key)} ({desc})")
        elif e["type"] == "extra_forbidden":
            valid = ", ".join(sorted(cls.model_fields))
            parts.append(f"unknown option {key!r} ({flag(key)}); valid options: {valid}")
        else:
            got = e.get("input")
            why = e["msg"]
            if e["type"] == "string_pattern_mismatch" and key in cls.model_fields:  # the regex says less than the help
                why = f"expected {cls.model_fields[key].description}"
            parts.append(f"bad value {got!r} for {key} ({flag(key)}): {why}")
    return "; ".join(parts)


def to_yaml(cfg: Config) -> str:
    import yaml

    values = cfg.model_dump(mode="json")
    ordered = {key: values[key] for _, keys in field_groups(type(cfg)) for key in keys}  # the command's own first
    return yaml.safe_dump(ordered, sort_keys=False)


def read_config_file(cls: type[Config], path: Path) -> dict[str, Any]:
    """The values of a `--config` YAML file, keyed as `cls`'s fields.

    Keys are written as the flags are named, with `_` or `-` (`batch_size`, `batch-size`, `from`).
    An unknown key is an error naming it and the valid ones; `RUN_ACTIONS` are left out.
    """
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else " ".join(str(err).split())
        raise HeadstartError(f"cannot read --config {path}: {reason}", fix="pass a YAML file of KEY: VALUE lines") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HeadstartError(f"--config {path} holds a {type(raw).__name__}, not KEY: VALUE lines",
                             fix="write one option a line, e.g. `steps: 100`")
    fields = cls.model_fields
    named: dict[str, Any] = {}
    written: dict[str, str] = {}  # field name -> the key as the file wrote it
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        name = name + "_" if name not in fields and name + "_" in fields else name
        named[name], written[name] = value, str(key)
    values = _renamed(named, cls)
    for name in values:
        if name not in fields:
            key = written.get(name, name)
            valid = [k.rstrip("_") for _, keys in field_groups(cls) for k in keys]
            raise HeadstartError(f"unknown key {key!r} in --config {path}", fix=did_you_mean(key, valid))
    return {k: v for k, v in values.items() if k not in RUN_ACTIONS}


# Options a resumed run takes from the command line, never from the run: where and how it is shown.
PER_INVOCATION = ("out", "resume", "overwrite", "progress")
# Options a resumed run may raise above the saved value: the run is extended.
EXTENDABLE = ("steps", "epochs")


def resumed(cfg: C, saved: dict[str, Any], *, where: Path | str) -> C:
    """The settings of a resumed run: the run's saved config, checked against the options given again.

    Options not given (not in `cfg.model_fields_set`) come from `saved`; one given with the saved
    value, or `auto` (the saved value is its resolution), is fine; a larger `--steps`/`--epochs`
    extends the run; any other difference is an error naming the option.
    """
    cls = type(cfg)
    values = _renamed({k: v for k, v in saved.items() if k not in PER_INVOCATION}, cls)
    values = {k: v for k, v in values.items() if k in cls.model_fields}
    given = cfg.model_dump(mode="json")
    for key in sorted(cfg.model_fields_set - set(PER_INVOCATION)):
        new, old = given[key], values.get(key)
        if key not in values or _agrees(new, old):
            values.setdefault(key, new)
        elif key in EXTENDABLE and new is not None and (old is None or new > old):
            values[key] = new
            if key == "epochs" and "steps" not in cfg.model_fields_set:
                values["steps"] = None  # the saved steps were resolved from the saved epochs
        else:
            extend = f"; it can only be extended: pass {flag(key)} above {old}" if key in EXTENDABLE else ""
            raise HeadstartError(f"--resume with {flag(key)} {_shown(new)} but the run used {_shown(old)}" + extend,
                                 fix=f"drop {flag(key)} (a resumed run keeps its settings), or pass another --out "
                                 f"than {where} for a new run")
    values.update({k: getattr(cfg, k) for k in PER_INVOCATION if k in cls.model_fields})
    return parse(cls, values)


def _agrees(given: Any, saved: Any) -> bool:
    """A value given again matches the saved one: equal, `auto` (resolved in the run), or for a
    dict (`--method-args`) the keys given equal."""
    if given == saved or given == "auto" or given == ["auto"]:
        return True
    if isinstance(given, dict) and isinstance(saved, dict):
        return all(k in saved and _agrees(v, saved[k]) for k, v in given.items())
    if isinstance(given, (int, float)) and isinstance(saved, (int, float)) and not isinstance(given, bool):
        return float(given) == float(saved)
    return False


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return "unset" if value is None else str(value)


def _renamed(values: dict[str, Any], cls: type[Config]) -> dict[str, Any]:
    """Keys a run folder saved before they were renamed, under today's names."""
    out = dict(values)
    for old, new in RENAMED_KEYS.items():
        if old in out and old not in cls.model_fields and new in cls.model_fields and new not in out:
            out[new] = out.pop(old)
    if "checkpoint_every_n_steps" in out and "checkpoint_every" in cls.model_fields and "checkpoint_every" not in out:
        steps = out.pop("checkpoint_every_n_steps")
        if steps:
            out["checkpoint_every"] = f"{steps}steps"
    return out


def from_yaml(cls: type[C], path: Path) -> C:
    import yaml

    try:
        values = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise HeadstartError(f"cannot read config {path}: {err}", fix="check the run folder") from None
    return parse(cls, _renamed(values, cls))


def api_function(cls: type[C], run: Callable[[C], Any], name: str, doc: str) -> Callable[..., Any]:
    """A keyword-only public function over `run`, its typed signature taken from `cls`."""

    def fn(**kwargs: Any) -> Any:
        return run(parse(cls, kwargs))

    fields = cls.model_fields
    params = [
        inspect.Parameter(
            key,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if fields[key].is_required() else fields[key].default,
            annotation=fields[key].annotation,
        )
        for _, keys in field_groups(cls) for key in keys
    ]
    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    fn.__name__ = fn.__qualname__ = name
    args = "\n".join(
        f"    {k}: {f.description or ''}" for k, f in cls.model_fields.items()
    )
    fn.__doc__ = f"{doc}\n\nArgs:\n{args}\n"
    return fn
