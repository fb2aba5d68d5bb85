"""Bad configs: unknown keys, wrong types, contradictory flags, a checkpoint of another model.
Each is one clear line and exit code 2, and nothing in an existing run folder changes."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import SMALL, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import headstart
from headstart.config import parse, to_yaml
from headstart.errors import HeadstartError
from headstart.export.config import EmbedConfig, ExportConfig
from headstart.train.config import PretrainConfig

pytestmark = pytest.mark.timeout(300)

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(), st.text(max_size=12),
    st.sampled_from(["auto", "skip", "32", "bf16-mixed", "ddp", "fsdp", "cpu", "gpu", "1e30", "-1", "0",
                     "fashion-mnist", "headstart/resnet-mini", "simclr", "", "[", "{a: 1}"]),
    st.lists(st.sampled_from(["csv", "tensorboard", "x", "1"]), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.floats(), st.text(max_size=4)), max_size=2),
)


@pytest.mark.parametrize("cls", [PretrainConfig, EmbedConfig, ExportConfig])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parse__random_dicts_give_a_valid_config_or_one_line_error(cls, data):
    printable = st.characters(blacklist_categories=("Cc", "Cs"))  # a key with a newline cannot be one line
    keys = st.one_of(st.sampled_from(sorted(cls.model_fields)), st.text(printable, min_size=1, max_size=12))
    values = data.draw(st.dictionaries(keys, ODD_VALUES, max_size=8))
    try:
        cfg = parse(cls, values)
    except HeadstartError as err:
        text = str(err)
        assert text and "\n" not in text and len(text) < 4000
        return
    assert isinstance(cfg, cls)
    text = to_yaml(cfg)  # what a run folder keeps ...
    assert to_yaml(parse(cls, yaml.safe_load(text))) == text  # ... reads back as the same config


def test_api__unknown_key_lists_the_valid_ones(small_folder):
    with pytest.raises(HeadstartError, match=r"unknown option 'epochz' \(--epochz\); valid options: .*epochs"):
        headstart.pretrain(data=str(small_folder), epochz=3)


@pytest.mark.parametrize("args, phrase", [
    (["--steps", "0"], "--steps"),
    (["--lr", "-1"], "greater than 0"),
    (["--lr", "fast"], "--lr"),
    (["--devices", "0"], "--devices"),
    (["--image-size", "-3"], "--image-size"),
    (["--ddp-timeout", "0"], "--ddp-timeout"),
    (["--precision", "64"], "--precision"),
    (["--method-args", "temperature"], "expected KEY=VALUE"),
    (["--method-args", "temperature=["], "--method-args for simclr: bad value '['"),
    (["--method-args", "temprature=0.1"], "unknown option 'temprature'"),
    (["--distributed", "fsdp", "--accelerator", "cpu"], "cannot set up training"),
    (["--accelerator", "mps"], "cannot set up training"),
])
def test_cli__bad_values_are_one_line_and_leave_nothing(args, phrase, small_folder, tmp_path, cli):
    out = tmp_path / "run"
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "1", *SMALL, *args)
    assert res.code == 2 and "Traceback" not in res.err, res.err
    assert len(res.errors) == 1 and phrase in res.errors[0], res.err
    assert not out.exists()  # refused during set-up: no folder left to clash with the corrected command


@pytest.fixture
def finished(pretrained_run, tmp_path):
    """A private copy of a finished 6-step resnet-mini run (config, checkpoint, export, metrics)."""
    out = tmp_path / "run"
    shutil.copytree(pretrained_run, out)
    return out


def resume(cli, run, data, *args: str):
    before = snapshot(run)
    res = cli("pretrain", "--data", data, "--out", run, "--resume", "--steps", "8", "--batch-size", "32",
              "--no-progress", "--no-monitor", *args)
    assert res.code == 2 and "Traceback" not in res.err and len(res.errors) == 1, res.err
    assert snapshot(run) == before  # nothing written, nothing overwritten
    return res.errors[0]


def test_resume__with_another_model_is_refused(finished, fmnist_folder, cli):
    line = resume(cli, finished, fmnist_folder, "--model", "headstart/vit-tiny")
    assert "--resume with --model headstart/vit-tiny but the run used headstart/resnet-mini" in line


def test_resume__checkpoint_of_another_model_is_refused(finished, fmnist_folder, cli):
    """config.yaml says vit-tiny, checkpoints/last.ckpt holds resnet-mini tensors."""
    config = finished / "config.yaml"
    config.write_text(config.read_text().replace("headstart/resnet-mini", "headstart/vit-tiny"))
    line = resume(cli, finished, fmnist_folder, "--model", "headstart/vit-tiny")
    assert "last.ckpt was written by another model or method" in line and "cannot resume" in line


def test_resume__unreadable_checkpoint_or_config(finished, fmnist_folder, cli):
    ckpt = finished / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # cut short by something other than headstart
    assert "cannot read checkpoint" in resume(cli, finished, fmnist_folder)
    (finished / "config.yaml").write_text("model: [unclosed\n")
    assert "cannot read config" in resume(cli, finished, fmnist_folder)


def test_resume_and_overwrite_together_are_refused(finished, fmnist_folder, cli):
    assert "--resume and --overwrite contradict each other" in resume(cli, finished, fmnist_folder, "--overwrite")


def test_out__non_empty_folder_is_never_overwritten_without_flag(tmp_path, small_folder, cli):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    before = snapshot(out)
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "1", *SMALL)
    assert res.code == 2 and "already holds a run" in res.errors[0] and "--overwrite" in res.errors[0]
    res = cli("pretrain", "--data", small_folder, "--out", out, "--steps", "1", "--resume", *SMALL)
    assert res.code == 2 and "nothing to resume" in res.errors[0] and "--overwrite" in res.errors[0]
    assert snapshot(out) == before
    (tmp_path / "file").write_text("x")
    res = cli("pretrain", "--data", small_folder, "--out", tmp_path / "file", "--steps", "1", *SMALL)
    assert res.code == 2 and "is a file" in res.errors[0]
