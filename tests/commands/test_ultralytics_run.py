"""A YOLO backbone end to end: `pretrain --model ultralytics/yolov8n.yaml`, `export --format
ultralytics`, then Ultralytics' own trainer starting from the file; and `finetune --task detect|segment`.
The same for RT-DETR (`ultralytics/rtdetr-l.yaml`, trained on by `ultralytics.RTDETR`)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

import headstart
from headstart.cli.main import main
from headstart.errors import HeadstartError
from headstart.models import ultralytics_
from headstart.models.factory import create_backbone, load_run_backbone
from tests.data.dense.scenes_data import mask_set, yolo_set

pytestmark = pytest.mark.skipif(ultralytics_.package_dir() is None, reason="the yolo extra (Ultralytics) is not installed")


@pytest.fixture(scope="module")
def yolo_run(tmp_path_factory, fmnist_folder):
    out = tmp_path_factory.mktemp("runs") / "yolo"
    headstart.pretrain(data=str(fmnist_folder), model="ultralytics/yolov8n.yaml", method="simclr", steps=3,
                       batch_size=16, out=out, progress=False, monitor=False)
    return out


@pytest.fixture(scope="module")
def rtdetr_run(tmp_path_factory, fmnist_folder):
    """RT-DETR-l's backbone (13.6M parameters) pretrained 2 steps of 4 images at 64 px."""
    out = tmp_path_factory.mktemp("runs") / "rtdetr"
    headstart.pretrain(data=str(fmnist_folder), model="ultralytics/rtdetr-l.yaml", method="simclr", steps=2,
                       batch_size=4, image_size=64, out=out, progress=False, monitor=False)
    return out


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, fmnist_train):
    return yolo_set(tmp_path_factory.mktemp("scenes"), fmnist_train, count=10)[0]  # 8 train, 2 val


def test_pretrain__every_stage_of_the_yolo_backbone_learns_at_32_px(yolo_run):
    config = (yolo_run / "config.yaml").read_text()
    assert "image_size: 32" in config and "seed: 0" in config  # 28 px images: the next multiple of stride 32
    torch.manual_seed(0)  # as pretrain seeds before it builds the backbone: its initial weights
    init = create_backbone("ultralytics/yolov8n.yaml", image_size=32)
    run = load_run_backbone(yolo_run)
    assert run.module.stages == init.module.stages
    for before, after in zip(init.layer_groups(), run.layer_groups(), strict=True):
        assert not all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    step = (run.module.state_dict()["0.conv.weight"] - init.module.state_dict()["0.conv.weight"]).abs().max()
    assert 0 < step < 0.01  # 3 small steps from that very start, not another draw


def test_export__ultralytics_trains_from_the_run_backbone(yolo_run, scenes, tmp_path):
    from ultralytics import YOLO

    pt = tmp_path / "yolov8n-headstart.pt"
    assert main(["export", "--run", str(yolo_run), "--format", "ultralytics", "--out", str(pt)]) == 0
    ours = {f"model.{k}": v for k, v in load_run_backbone(yolo_run).module.state_dict().items()}
    model = YOLO(str(pt))
    assert model.task == "detect"
    loaded = model.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in ours.items())

    seen = train_one_epoch(model, scenes, tmp_path)
    assert all(torch.equal(seen["start"][k], v) for k, v in ours.items())  # started from the run's backbone
    key = "model.8.cv2.conv.weight"
    assert not torch.equal(seen["end"][key], ours[key])  # and trained

    last = tmp_path / "ul" / "t" / "weights" / "last.pt"  # float16, as Ultralytics saves: back into a backbone
    trained = YOLO(str(last)).model.state_dict()
    back = create_backbone("ultralytics/yolov8n.yaml", weights=last).module.state_dict()
    assert all(torch.equal(v, trained[f"model.{k}"]) for k, v in back.items())


def train_one_epoch(model, scenes, tmp_path) -> dict:
    """`model.train` on the 8 training scenes at 64 px, batch 4 (2 steps): the trainer's class and the
    weights it starts from and ends with."""
    seen = {}

    def first_batch(trainer):  # the weights Ultralytics' trainer starts from
        seen.setdefault("start", {k: v.detach().clone() for k, v in trainer.model.state_dict().items()})
        seen["trainer"] = type(trainer).__name__

    def epoch_end(trainer):
        seen["end"] = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    model.add_callback("on_train_batch_start", first_batch)
    model.add_callback("on_train_epoch_end", epoch_end)
    model.train(data=str(scenes / "data.yaml"), epochs=1, imgsz=64, batch=4, workers=0, device="cpu",
                plots=False, val=False, amp=False, project=str(tmp_path / "ul"), name="t", exist_ok=True,
                verbose=False)
    return seen


def test_export__ultralytics_rtdetr_trains_from_the_run_backbone(rtdetr_run, scenes, tmp_path):
    from ultralytics import RTDETR

    pt = tmp_path / "rtdetr-l-headstart.pt"
    assert main(["export", "--run", str(rtdetr_run), "--format", "ultralytics", "--out", str(pt)]) == 0
    ours = {f"model.{k}": v for k, v in load_run_backbone(rtdetr_run).module.state_dict().items()}
    assert len(ours) > 400  # HGStem and the HGBlocks: every backbone tensor, not a few
    model = RTDETR(str(pt))
    assert model.task == "detect" and type(model.model).__name__ == "RTDETRDetectionModel"
    loaded = model.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in ours.items())

    seen = train_one_epoch(model, scenes, tmp_path)
    assert seen["trainer"] == "RTDETRTrainer"
    assert all(torch.equal(seen["start"][k], v) for k, v in ours.items())  # started from the run's backbone
    key = "model.9.m.0.conv1.conv.weight"  # P5's HGBlock
    assert not torch.equal(seen["end"][key], ours[key])  # and trained

    last = tmp_path / "ul" / "t" / "weights" / "last.pt"  # float16, as Ultralytics saves: back into a backbone
    trained = RTDETR(str(last)).model.state_dict()
    back = create_backbone("ultralytics/rtdetr-l.yaml", weights=last).module.state_dict()
    assert all(torch.equal(v, trained[f"model.{k}"]) for k, v in back.items())


def test_export__the_same_run_exports_the_same_weights(yolo_run, tmp_path):
    first, second = (headstart.export(run=yolo_run, format="ultralytics", out=tmp_path / f"{i}.pt") for i in (1, 2))
    a, b = (torch.load(f, weights_only=False)["model"].state_dict() for f in (first, second))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # the fresh neck and head too


def test_pretrain__from_an_ultralytics_checkpoint(yolo_run, fmnist_folder, tmp_path):
    pt = headstart.export(run=yolo_run, format="ultralytics", out=tmp_path / "start.pt")
    start = create_backbone("ultralytics/yolov8n.yaml", weights=pt).module.state_dict()
    assert all(torch.equal(v, load_run_backbone(yolo_run).module.state_dict()[k]) for k, v in start.items())
    with pytest.raises(HeadstartError, match="do not fit"):  # a detector's backbone is no resnet-mini
        create_backbone("headstart/resnet-mini", weights=pt)
    out = tmp_path / "again"
    headstart.pretrain(data=str(fmnist_folder), model="ultralytics/yolov8n.yaml", weights=str(pt), steps=1,
                       batch_size=16, out=out, progress=False, monitor=False)
    assert (out / "exported" / "backbone.safetensors").is_file()


@pytest.mark.parametrize(("out", "message"), [("yolo.pth", "only .pt"),
                                              ("yolo.pt", "not an Ultralytics model")])
def test_export__error_one_line(out, message, yolo_run, pretrained_run, tmp_path, capsys):
    run = yolo_run if out.endswith(".pth") else pretrained_run  # pretrained_run: headstart/resnet-mini
    code = main(["export", "--run", str(run), "--format", "ultralytics", "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize(("run", "task", "score"), [("yolo_run", "detect", "map50"), ("yolo_run", "segment", "miou"),
                                                    ("rtdetr_run", "detect", "map50")])
def test_finetune_dense__from_an_ultralytics_run(run, task, score, scenes, fmnist_train, tmp_path, request):
    run = request.getfixturevalue(run)
    data = scenes if task == "detect" else mask_set(tmp_path / "masks", fmnist_train, count=10)[0]
    out = tmp_path / task
    headstart.finetune(from_=str(run), data=str(data), task=task, strategy="full", steps=2,
                       batch_size=4, image_size=64, out=out, progress=False)
    results = json.loads((out / "results.json").read_text())
    model = yaml.safe_load((run / "config.yaml").read_text())["model"]  # yolov8n.yaml or rtdetr-l.yaml
    assert results["model"] == model and results["task"] == task and results["steps"] == 2
    assert 0.0 <= results[score] <= 1.0
