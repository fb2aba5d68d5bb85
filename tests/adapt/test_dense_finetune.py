"""End to end: `finetune --task detect|segment` on Fashion-MNIST scenes, then evaluate and predict."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

import headstart
from headstart.adapt.config import FinetuneConfig
from headstart.commands.evaluate import format_table
from headstart.commands.finetune_dense import dense_splits
from headstart.errors import HeadstartError
from tests.data.dense.scenes_data import SIZE, coco_set, mask_set, yolo_set

TINY = {"steps": 2, "batch_size": 4, "image_size": SIZE, "progress": False}


@pytest.fixture(scope="module")
def yolo(tmp_path_factory, fmnist_train):
    return yolo_set(tmp_path_factory.mktemp("yolo"), fmnist_train)[0]


@pytest.fixture(scope="module")
def det_run(tmp_path_factory, yolo, pretrained_run):
    out = tmp_path_factory.mktemp("runs") / "det"
    headstart.finetune(from_=str(pretrained_run), data=str(yolo), task="detect", strategy="lora", out=out, **TINY)
    return out


def test_finetune_detect__lora_results_and_exported_plain_model(det_run, fmnist_train):
    results = json.loads((det_run / "results.json").read_text())
    assert results["task"] == "detect" and results["strategy"] == "lora" and results["scored_on"] == "val"
    assert results["model"] == "headstart/resnet-mini" and results["trainable_share"] < 1.0
    assert results["train_images"] == 32 and results["val_images"] == 8 and results["steps"] == 2
    for key in ("map50", "map", "val_map50", "val_map"):
        assert 0.0 <= results[key] <= 1.0
    assert set(results["per_class_ap"]) == set(fmnist_train.classes)
    with safe_open(str(det_run / "exported" / "model.safetensors"), framework="pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    assert meta["task"] == "detect" and any(k.startswith("dense_head.") for k in keys) and "stem.0.weight" in keys
    assert not any("lora" in k for k in keys)  # adapters merged
    assert (det_run / "exported" / "backbone.safetensors").is_file()


def test_evaluate_and_predict__detect_run(det_run, yolo, tmp_path):
    scores = headstart.evaluate(run=det_run, data=f"{yolo}:val", progress=False)
    assert scores["eval_split"] == "val" and scores["eval_images"] == 8 and 0.0 <= scores["map50"] <= 1.0
    table = format_table(scores)  # what `headstart evaluate` prints
    assert f"mAP@0.5:0.95{scores['map']:>10.1%}" in table and all(name in table for name in scores["per_class_ap"])
    out = headstart.predict(run=det_run, data=str(yolo / "images" / "val"), out=tmp_path / "boxes.json",
                            draw=tmp_path / "drawn", progress=False)
    entries = json.loads(out.read_text())
    assert entries and {"image_id", "file_name", "category_id", "category", "score", "bbox"} <= set(entries[0])
    assert all(0 <= e["bbox"][0] and e["bbox"][0] + e["bbox"][2] <= SIZE + 1e-3 for e in entries)
    assert len(list((tmp_path / "drawn").glob("*.png"))) == 8


def test_finetune_segment__linear_from_a_run_keeps_the_backbone(pretrained_run, fmnist_train, tmp_path):
    root, _ = mask_set(tmp_path / "seg", fmnist_train)
    out = tmp_path / "seg-run"
    result = headstart.finetune(from_=str(pretrained_run), data=str(root), task="segment", strategy="linear",
                                out=out, **TINY)
    results = json.loads((out / "results.json").read_text())
    assert result.task == "segment" and 0.0 <= results["miou"] <= 1.0 and results["trainable_share"] < 0.2
    assert set(results["per_class_iou"]) == {"background", *fmnist_train.classes}
    forgetting = results["forgetting"]  # the frozen backbone forgets nothing of its pretraining data
    assert forgetting["after"] == forgetting["before"] > 0.5 and forgetting["drop"] == 0
    before = safe_open(str(pretrained_run / "exported" / "backbone.safetensors"), framework="pt")
    after = safe_open(str(out / "exported" / "backbone.safetensors"), framework="pt")
    kept = [k for k in before.keys() if "running" not in k]  # noqa: SIM118 - safe_open has no __iter__
    assert kept and all(before.get_tensor(k).equal(after.get_tensor(k)) for k in kept)
    scores = headstart.evaluate(run=out, data=str(root), progress=False)
    assert scores["eval_split"] == "val" and scores["miou"] == pytest.approx(results["val_miou"])
    assert f"mIoU{scores['miou']:>18.1%}" in format_table(scores)
    masks = json.loads(headstart.predict(run=out, data=str(root / "val" / "images"), out=tmp_path / "m.json",
                                         progress=False).read_text())
    assert all(e["segmentation"]["size"] == [SIZE, SIZE] for e in masks)


@pytest.mark.parametrize(("options", "message"), [
    ({"strategy": "lp-ft"}, "--strategy lp-ft is not available for --task detect"),
    ({"blend": 0.5}, "--blend apply to --task classify"),
])
def test_finetune_detect__classification_options_refused(yolo, tmp_path, options, message):
    with pytest.raises(HeadstartError, match=message):
        headstart.finetune(from_="scratch", model="headstart/resnet-mini", data=str(yolo), task="detect",
                           out=tmp_path / "x", **TINY, **options)


def test_dense_splits__label_budget_is_a_seeded_prefix_and_coco_holds_out_val(yolo, tmp_path, fmnist_train):
    cfg = FinetuneConfig(from_="scratch", model="headstart/resnet-mini", data=str(yolo), task="detect", labels="10",
                         image_size=SIZE, out=tmp_path / "x")
    s10, s20 = dense_splits(cfg), dense_splits(cfg.model_copy(update={"labels": "20"}))
    assert len(s10.train) == 10 and len(s20.train) == 20 and len(s10.val) == 8 and s10.test is None
    assert set(s10.train.paths) < set(s20.train.paths)  # nested budgets
    path, _ = coco_set(tmp_path, fmnist_train, count=20)
    coco = dense_splits(cfg.model_copy(update={"data": str(path), "labels": None, "val_fraction": 0.25}))
    assert len(coco.val) == 5 and len(coco.train) == 15 and not set(coco.val.paths) & set(coco.train.paths)


def test_finetune_cli__detect_prints_its_scores_line(yolo, pretrained_run, tmp_path, capsys):
    """The command line's summary of a dense run (it used to end in an AttributeError on `accuracy`)."""
    from headstart.cli.main import main

    out = tmp_path / "det-cli"
    code = main(["finetune", "--from", str(pretrained_run), "--data", str(yolo), "--task", "detect", "--strategy",
                 "linear", "--steps", "2", "--batch-size", "4", "--image-size", str(SIZE), "--no-progress",
                 "--out", str(out)])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    results = json.loads((out / "results.json").read_text())
    assert code == 0
    assert line.startswith(f"linear: val mAP@0.5 {results['map50']:.1%}, val mAP@0.5:0.95 {results['map']:.1%}")
    assert "forgetting kNN" in line and line.endswith(f"-> {out}")


def test_dense_summary__a_score_without_objects_reads_n_a():
    from pathlib import Path

    from headstart.commands.finetune_dense import DenseResult, summary

    line = summary(DenseResult(Path("r"), "detect", "full", {"map50": None, "map": 0.25}, 3, 1.0, scored_on="test"))
    assert line.startswith("full: test mAP@0.5 n/a (no objects), test mAP@0.5:0.95 25.0%, 100.0% of parameters")
