"""`headstart finetune / evaluate / predict` on the command line: user errors are one line and exit 2."""

from __future__ import annotations

import pytest

from headstart.cli.main import main
from tests.adapt.conftest import make_ft_root


@pytest.fixture(scope="module")
def ft_root(tmp_path_factory, fmnist_train, fmnist_test):
    """Real Fashion-MNIST images in train/ and test/ class folders (as tests/adapt uses)."""
    return make_ft_root(tmp_path_factory.mktemp("cli-ft-data"), fmnist_train, fmnist_test)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--from", "scratch", "--model", "headstart/resnet-mini", "--strategy", "bogus"],
            "unknown fine-tuning strategy",
        ),
        (
            ["--from", "scratch", "--model", "headstart/resnet-mini", "--per-class", "10000"],
            "fewer than 10000 per class",
        ),
        (["--from", "/no/such/run"], "no such run folder or weights file"),
        (["--from", "scratch"], "--from scratch needs --model"),
        (
            ["--from", "scratch", "--model", "headstart/resnet-mini", "--blend", "0.5"],
            "--blend needs pretrained",
        ),
    ],
)
def test_finetune_cli__user_errors_exit_2_with_one_line(args, message, capsys, tmp_path, ft_root):
    code = main(["finetune", "--data", str(ft_root), "--out", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("headstart finetune: error:") and message in err


def test_finetune_cli__from_flag_and_run_then_evaluate_and_predict(capsys, tmp_path, pretrained_run, ft_root):
    out = tmp_path / "ft"
    code = main(
        [
            "finetune",
            "--from",
            str(pretrained_run),
            "--data",
            str(ft_root),
            "--labels",
            "50%",
            "--strategy",
            "lora",
            "--lora-rank",
            "4",
            "--steps",
            "4",
            "--batch-size",
            "32",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "lora: test accuracy" in printed and "of parameters trained" in printed
    assert main(["evaluate", "--run", str(out), "--data", str(ft_root), "--no-progress"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert (
        main(
            [
                "predict",
                "--run",
                str(out),
                "--data",
                str(ft_root / "test"),
                "--out",
                str(tmp_path / "p.csv"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "p.csv").read_text().count("\n") == 161
