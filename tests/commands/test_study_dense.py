"""`headstart study --task detect|segment`: the label ladder in mAP / mIoU on scenes of real
Fashion-MNIST items, paired gains, and the report with the chosen model's predictions drawn."""

from __future__ import annotations

import json

import pytest

import headstart
from headstart.data.dense.scenes import write_masks, write_yolo
from headstart.errors import HeadstartError
from tests.data.dense.scenes_data import scenes

COMMON = {"seeds": 2, "finetune_steps": 2, "progress": False}


def splits(fmnist):
    s = scenes(fmnist, 60)
    return {"train": s[:36], "val": s[36:48], "test": s[48:]}


@pytest.fixture(scope="module")
def yolo_with_test(tmp_path_factory, fmnist_train):
    return write_yolo(tmp_path_factory.mktemp("yolo"), splits(fmnist_train), fmnist_train.classes).parent


@pytest.fixture(scope="module")
def detect_study(tmp_path_factory, yolo_with_test, pretrained_run):
    out = tmp_path_factory.mktemp("study") / "det"
    result = headstart.study(data=str(yolo_with_test / "images" / "train"), labeled=str(yolo_with_test),
                             task="detect", from_=str(pretrained_run), budgets=["10", "24"],
                             strategies=["linear", "full"], out=out, **COMMON)
    return result


def test_study_detect__cells_in_map_paired_gains_and_answer(detect_study):
    results = json.loads((detect_study.run / "results.json").read_text())
    assert results["metric"] == "mAP@0.5:0.95" and results["frozen_knn"] is None
    cells = results["cells"]
    assert {(c["start"], c["strategy"]) for c in cells} == {("scratch", "full"), ("pretrained", "linear"),
                                                            ("pretrained", "full")}
    assert len(cells) == 3 * 2 * 2
    for c in cells:
        assert c["metric"] == "map" and 0.0 <= c["map"] <= c["map50"] <= 1.0 and 0.0 <= c["val_map"] <= 1.0
        assert "accuracy" not in c and "test_probs" not in c
        assert c["labels"] == int(c["budget"]) + 12  # its training images and the data's 12 validation ones
    # the gain is paired per seed: the mean of the per-seed differences of the cells' own scores
    by = {(c["start"], c["strategy"], c["budget"], c["seed"]): c["map"] for c in cells}
    gain = next(g for g in results["gains"] if g["curve"] == "pretrained/full" and g["budget"] == "24")
    assert gain["n"] == 2 and gain["gain"] == pytest.approx(
        sum(by[("pretrained", "full", "24", s)] - by[("scratch", "full", "24", s)] for s in (0, 1)) / 2)
    assert "chosen by validation mAP@0.5:0.95" in results["answer"]
    assert detect_study.answer == results["answer"]


def test_study_detect__report_in_map_with_drawn_predictions(detect_study):
    page = (detect_study.run / "report.html").read_text()
    assert "test mAP@0.5:0.95, 95% CI" in page and "boxes with score &gt;= 0.3" in page
    assert (detect_study.run / "plots" / "predictions.png").stat().st_size > 1000
    assert not (detect_study.run / "plots" / "embeddings.png").exists()


def test_study_segment__cells_in_miou(tmp_path, fmnist_train, pretrained_run):
    root = write_masks(tmp_path / "seg", splits(fmnist_train), fmnist_train.classes)
    result = headstart.study(data=str(root / "train" / "images"), labeled=str(root), task="segment",
                             from_=str(pretrained_run), budgets=["12"], strategies=["linear"],
                             out=tmp_path / "s", **{**COMMON, "seeds": 1})
    results = json.loads((result.run / "results.json").read_text())
    assert results["metric"] == "mIoU"
    assert all(c["metric"] == "miou" and 0.0 <= c["miou"] <= 1.0 for c in results["cells"])
    assert "1 seed: no interval" in results["answer"]
    assert (result.run / "plots" / "predictions.png").is_file()


@pytest.mark.parametrize(("options", "message"), [
    ({"budgets": ["5/class"]}, "--budgets 5/class: a per-class budget applies to classification"),
    ({"test": "fashion-mnist"}, "--test apply to classification studies, not --task detect"),
    ({"semi": "fixmatch"}, "--semi apply to classification studies"),
])
def test_study_detect__classification_options_refused_before_any_folder(options, message, yolo_with_test,
                                                                        pretrained_run, tmp_path):
    with pytest.raises(HeadstartError, match=message):
        headstart.study(data=str(yolo_with_test), task="detect", from_=str(pretrained_run), out=tmp_path / "s",
                        **{**COMMON, **options})
    assert not (tmp_path / "s").exists()


def test_study_detect__labeled_data_without_test_split_refused(tmp_path, fmnist_train, pretrained_run):
    s = scenes(fmnist_train, 20)
    root = write_yolo(tmp_path / "y", {"train": s[:16], "val": s[16:]}, fmnist_train.classes).parent
    with pytest.raises(HeadstartError, match="has no test split for the study to score on"):
        headstart.study(data=str(root), task="detect", from_=str(pretrained_run), out=tmp_path / "s", **COMMON)
