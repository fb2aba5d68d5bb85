"""`--config FILE` and `--print-config` on every command; a mistyped flag or key gets the closest name."""

from __future__ import annotations

import pytest
import yaml

from headstart.cli.main import build_parser, load_commands, main


def test_config__flags_override_file(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("data: fashion-mnist\nbatch-size: 32\nsteps: 7\n")
    code = main(["pretrain", "--config", str(tmp_path / "c.yaml"), "--steps", "9", "--print-config"])
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert code == 0
    assert (cfg["data"], cfg["batch_size"], cfg["steps"], cfg["lr"]) == ("fashion-mnist", 32, 9, "auto")


def test_config__resume_and_overwrite_never_read_from_file(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("data: fashion-mnist\nresume: true\noverwrite: true\n")
    assert main(["pretrain", "--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["resume"] is False and cfg["overwrite"] is False
    assert main(["pretrain", "--config", str(tmp_path / "c.yaml"), "--overwrite", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["overwrite"] is True


def test_config__from_key_as_the_flag_is_named(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("from: scratch\ndata: fashion-mnist\nlabels: 1%\n")
    assert main(["finetune", "--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["from_"] == "scratch" and cfg["labels"] == "1%"


def test_config__error_unknown_key_did_you_mean(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("data: fashion-mnist\nbatchsize: 32\n")
    code = main(["pretrain", "--config", str(tmp_path / "c.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown key 'batchsize'" in err and "did you mean 'batch_size'" in err and "valid: data, " in err


@pytest.mark.parametrize("text, message", [
    ("- steps\n", "holds a list"),
    ("steps: [\n", "cannot read --config"),
])
def test_config__error_bad_file_one_line(tmp_path, capsys, text, message):
    (tmp_path / "c.yaml").write_text(text)
    assert main(["pretrain", "--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_config__error_missing_file(tmp_path, capsys):
    assert main(["evaluate", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_config__every_command_prints_its_config(tmp_path, capsys):
    for cmd in load_commands():
        required = {k: 3 if f.annotation is int else "fashion-mnist" for k, f in cmd.config.model_fields.items()
                    if f.is_required()}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(required))
        assert main([cmd.name, "--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0, cmd.name
        printed = yaml.safe_load(capsys.readouterr().out) or {}
        assert set(printed) == set(cmd.config.model_fields), cmd.name


def test_config__run_config_reproduces_the_run_bit_identically(pretrained_run, tmp_path, capsys):
    again = tmp_path / "again"
    assert main(["pretrain", "--config", str(pretrained_run / "config.yaml"), "--out", str(again)]) == 0
    first = (pretrained_run / "exported" / "backbone.safetensors").read_bytes()
    assert (again / "exported" / "backbone.safetensors").read_bytes() == first
    saved = yaml.safe_load((again / "config.yaml").read_text())
    assert saved == {**yaml.safe_load((pretrained_run / "config.yaml").read_text()), "out": str(again)}


def test_cli__mistyped_flag_did_you_mean(capsys):
    code = main(["pretrain", "--data", "fashion-mnist", "--stepz", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "headstart pretrain: error: unknown option --stepz; did you mean --steps?"


def test_cli__renamed_flag_points_to_its_new_name(capsys):
    assert main(["pretrain", "--data", "fashion-mnist", "--strategy", "ddp"]) == 2
    assert capsys.readouterr().err.strip() == ("headstart pretrain: error: unknown option --strategy; "
                                               "did you mean --distributed?")


def test_cli__one_meaning_per_flag_name():
    """A flag name takes the same kind of value in every command (a blend's weights are --blend-weights,
    not pretrain's --weights file); the distribution over devices is --distributed everywhere, so
    finetune's --strategy (lp-ft, lora, ...) is the only --strategy among the training commands."""
    from headstart.cli._build import _kind

    seen: dict[str, tuple[str, str]] = {}
    for cmd in load_commands():
        for key, field in cmd.config.model_fields.items():
            kind = _kind(field.annotation)
            first = seen.setdefault(key, (kind, cmd.name))
            assert first[0] == kind, f"--{key}: {kind} in {cmd.name}, {first[0]} in {first[1]}"
    pretrain = next(c for c in load_commands() if c.name == "pretrain").config
    finetune = next(c for c in load_commands() if c.name == "finetune").config
    assert "strategy" not in pretrain.model_fields
    assert pretrain.model_fields["distributed"].annotation == finetune.model_fields["distributed"].annotation


def test_cli__mistyped_command_did_you_mean(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["pretrian"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "did you mean 'pretrain'" in err


def test_cli__bad_flag_value_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["pretrain", "--progress=3"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("headstart pretrain: error:") and len(err.strip().splitlines()) == 1


def test_cli__help_does_not_repeat_defaults():
    for cmd in load_commands():
        for key, field in cmd.config.model_fields.items():
            assert "default" not in (field.description or "").lower(), f"{cmd.name} --{key}: {field.description}"
    parser = build_parser(load_commands())
    sub = parser._subparsers._group_actions[0].choices["pretrain"]
    assert "(default: 256)" in " ".join(sub.format_help().split())
