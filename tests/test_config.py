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
    assert next(iter(sig.parameters)) == "data"
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


SAVED = {"data": "fashion-mnist", "steps": 5, "epochs": 1, "batch_size": 32, "lr": 0.0375, "seed": 0,
         "method_args": {"temperature": 0.2, "views": "light"}, "precision": "32", "out": "runs/a",
         "overwrite": True, "progress": False}


def test_resumed__options_not_given_come_from_the_run():
    from headstart.config import resumed

    cfg = resumed(parse(PretrainConfig, {"data": "fashion-mnist", "resume": True, "out": "runs/a"}), SAVED,
                  where="runs/a")
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.precision) == (5, 32, 0.0375, "32")
    assert cfg.method_args == {"temperature": 0.2, "views": "light"}
    assert cfg.resume is True and cfg.overwrite is False and cfg.progress is True  # said on this command line


def test_resumed__same_or_auto_values_agree():
    from headstart.config import resumed

    given = {"data": "fashion-mnist", "batch_size": 32, "lr": "auto", "precision": "auto", "resume": True,
             "method_args": {"temperature": 0.2}}
    cfg = resumed(parse(PretrainConfig, given), SAVED, where="runs/a")
    assert cfg.lr == 0.0375 and cfg.precision == "32" and cfg.method_args["views"] == "light"


def test_resumed__larger_steps_or_epochs_extend():
    from headstart.config import resumed

    cfg = resumed(parse(PretrainConfig, {"data": "fashion-mnist", "steps": 9}), SAVED, where="runs/a")
    assert cfg.steps == 9
    cfg = resumed(parse(PretrainConfig, {"data": "fashion-mnist", "epochs": 3}), SAVED, where="runs/a")
    assert cfg.epochs == 3 and cfg.steps is None  # steps follow from the new epochs


@pytest.mark.parametrize("given, message", [
    ({"batch_size": 64}, "--resume with --batch-size 64 but the run used 32"),
    ({"steps": 3}, "--resume with --steps 3 but the run used 5; it can only be extended: pass --steps above 5"),
    ({"method_args": {"temperature": 0.5}}, "--method-args temperature=0.5 but the run used temperature=0.2"),
    ({"data": "mnist"}, "--data mnist but the run used fashion-mnist"),
])
def test_resumed__error_disagreeing_option_named(given, message):
    from headstart.config import resumed

    with pytest.raises(HeadstartError) as err:
        resumed(parse(PretrainConfig, {"data": "fashion-mnist", **given}), SAVED, where="runs/a")
    assert message in str(err.value) and "another --out than runs/a" in str(err.value)


def test_parse__error_pattern_mismatch_explained_by_the_help():
    with pytest.raises(HeadstartError, match=r"bad value '10min' for checkpoint_every \(--checkpoint-every\): "
                       r"expected checkpoint every N seconds, minutes or hours of training \(30s, 5m, 1h\)"):
        parse(PretrainConfig, {"data": "x", "checkpoint_every": "10min"})
