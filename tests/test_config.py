"""Configs: unknown keys and bad values are one clear line; API signatures come from configs."""

from __future__ import annotations

import inspect

import pytest

from headstart.cli.main import build_parser, load_commands
from headstart.config import parse
from headstart.errors import HeadstartError
from headstart.train.config import PretrainConfig


def test_parse__error_unknown_key_lists_valid():
    with pytest.raises(HeadstartError, match=r"unknown option 'batchsize' \(--batchsize\); valid options: .*batch_size"):
        parse(PretrainConfig, {"data": "x", "batchsize": 3})


def test_parse__error_bad_type_names_flag():
    with pytest.raises(HeadstartError, match=r"bad value 'many' for steps \(--steps\)"):
        parse(PretrainConfig, {"data": "x", "steps": "many"})


def test_parse__auto_or_number():
    cfg = parse(PretrainConfig, {"data": "x", "lr": "0.5", "image_size": "64"})
    assert cfg.lr == 0.5 and cfg.image_size == 64
    assert parse(PretrainConfig, {"data": "x"}).lr == "auto"


def test_api__keyword_only_signature_from_config():
    import headstart

    sig = inspect.signature(headstart.pretrain)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())
    assert set(sig.parameters) == set(PretrainConfig.model_fields)
    assert list(sig.parameters)[0] == "data"
    with pytest.raises(TypeError):
        headstart.pretrain("fashion-mnist")  # positional arguments are refused


def test_cli__every_command_has_help(capsys):
    parser = build_parser(load_commands())
    for cmd in load_commands():
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([cmd.name, "--help"])
        assert exit_.value.code == 0
        assert cmd.help.split()[0] in capsys.readouterr().out


def test_cli__method_args_are_typed():
    from headstart.cli._build import values_from_args

    cmd = next(c for c in load_commands() if c.name == "pretrain")
    ns = build_parser([cmd]).parse_args(["pretrain", "--data", "x", "--method-args", "temperature=0.1", "views=byol"])
    assert values_from_args(ns, cmd)["method_args"] == {"temperature": 0.1, "views": "byol"}


def test_api__every_public_name_is_a_keyword_only_function_after_imports():
    """Submodules with an API function's name would shadow it; import everything, then check."""
    import importlib
    import pkgutil

    import headstart

    for mod in pkgutil.walk_packages(headstart.__path__, "headstart."):
        if ".cli." not in mod.name:
            importlib.import_module(mod.name)
    for name in headstart.__all__:
        fn = getattr(headstart, name)
        assert callable(fn), name
        params = inspect.signature(fn).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), name
