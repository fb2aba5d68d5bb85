"""`headstart bias` on a tiny fine-tuned run: 4 Fashion-MNIST classes, 40 test images each, groups
by kind of garment from a CSV, and a from-scratch run as the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart.cli.main import main
from headstart.commands.bias import bias
from headstart.commands.evaluate import evaluate
from tests.adapt.conftest import finetune_fast, make_ft_root

KIND = {"T-shirt-top": "tops", "Trouser": "bottoms", "Sneaker": "shoes", "Ankle boot": "shoes"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, pretrained_run, fmnist_train, fmnist_test):
    root = tmp_path_factory.mktemp("bias")
    data = make_ft_root(root / "data", fmnist_train, fmnist_test)
    finetune_fast(root / "ft", from_=str(pretrained_run), data=str(data), strategy="linear", epochs=2, seed=0)
    finetune_fast(root / "scratch", from_="scratch", model="headstart/resnet-mini", data=str(data),
                  strategy="full", epochs=1, seed=0)
    groups = root / "groups.csv"  # the example: garments grouped by kind, plus a second attribute
    rows = [f"{p},{KIND[p.parent.name]},{'even' if int(p.stem) % 2 == 0 else 'odd'}"
            for p in sorted((data / "test").rglob("*.png"))]
    groups.write_text("path,kind,parity\n" + "\n".join(str(r) for r in rows) + "\n")
    return root, data, groups


def test_bias__report_page_and_results_from_the_cli(runs, capsys):
    root, data, groups = runs
    code = main(["bias", "--run", str(root / "ft"), "--data", str(data), "--groups", str(groups),
                 "--baseline", str(root / "scratch"), "--no-progress"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0].startswith("accuracy ") and "worst class" in out[0] and "ECE" in out[0]
    assert out[1] == f"wrote {root / 'ft' / 'bias.html'}"
    bias = json.loads((root / "ft" / "results.json").read_text())["bias"]
    assert [r["class"] for r in bias["per_class"]] == ["Ankle boot", "Sneaker", "T-shirt-top", "Trouser"]
    assert all(r["support"] == 40 for r in bias["per_class"]) and bias["n"] == 160
    kinds = {g["group"]: g["n"] for g in bias["groups"]["kind"]}
    assert kinds == {"tops": 40, "bottoms": 40, "shoes": 80}
    assert {g["group"] for g in bias["groups"]["parity"]} == {"even", "odd"}
    diff = bias["baseline"]["difference"]["overall"]["mean"]
    assert diff == pytest.approx(bias["accuracy"] - bias["baseline"]["accuracy"])
    assert sum(b["count"] for b in bias["calibration"]["bins"]) == 160
    page = (root / "ft" / "bias.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "Groups by kind" in page and "vs baseline" in page


def test_bias__accuracy_agrees_with_evaluate(runs):
    root, data, _ = runs
    report = bias(run=root / "ft", data=str(data), out=root / "elsewhere", progress=False)
    evaluated = evaluate(run=root / "ft", data=str(data), progress=False)
    assert report["accuracy"] == pytest.approx(evaluated["accuracy"])
    worst = min(report["per_class"], key=lambda r: r["accuracy"]["mean"])
    assert report["worst_class"] == worst["class"] and Path(report["page"]).parent == root / "elsewhere"


def test_bias__groups_csv_naming_no_image_is_one_line(runs, tmp_path, capsys):
    root, data, _ = runs
    bad = tmp_path / "groups.csv"
    bad.write_text("path,site\n/nowhere/a.png,x\n")
    code = main(["bias", "--run", str(root / "ft"), "--data", str(data), "--groups", str(bad), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no path of" in err[0]
