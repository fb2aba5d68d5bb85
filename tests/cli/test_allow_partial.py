"""`--allow-partial`: a weights file that does not cover the model is refused unless it is given."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file, save_file

from headstart.cli.main import main


@pytest.fixture()
def partial_file(pretrained_run, tmp_path):
    state = load_file(str(pretrained_run / "exported" / "backbone.safetensors"))
    dropped = sorted(k for k in state if k.endswith(".weight"))[:2]
    save_file({k: v for k, v in state.items() if k not in dropped}, str(tmp_path / "partial.safetensors"))
    return tmp_path / "partial.safetensors", dropped


@pytest.mark.parametrize("command", [
    ["pretrain", "--data", "fashion-mnist", "--weights"],
    ["finetune", "--data", "fashion-mnist", "--labels", "100", "--model", "headstart/resnet-mini", "--from"],
])
def test_partial_weights__refused_one_line(partial_file, tmp_path, capsys, command):
    path, dropped = partial_file
    code = main([*command, str(path), "--steps", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "do not fit this model" in err and "2 missing" in err and dropped[0] in err and "--allow-partial" in err
    assert not (tmp_path / "r" / "checkpoints").exists() and not (tmp_path / "r" / "exported").exists()


def test_partial_weights__allowed_trains_and_warns(partial_file, fmnist_folder, tmp_path, capsys):
    path, _ = partial_file
    code = main(["pretrain", "--data", str(fmnist_folder), "--weights", str(path), "--allow-partial", "--steps", "1",
                 "--batch-size", "32", "--no-monitor", "--no-progress", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "headstart pretrain: warning: partial weights from" in err and "2 missing" in err
    assert (tmp_path / "r" / "exported" / "backbone.safetensors").is_file()
