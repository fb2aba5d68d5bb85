"""`headstart pretrain`, `embed`, `export` end to end on real Fashion-MNIST images."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

import headstart
from headstart.cli.main import main
from headstart.models.factory import load_run_backbone
from headstart.run import Run


def test_pretrain__run_folder(pretrained_run):
    cfg = yaml.safe_load((pretrained_run / "config.yaml").read_text())
    assert "auto" not in (cfg["lr"], cfg["image_size"], cfg["precision"], cfg["weight_decay"])  # resolved
    assert cfg["steps"] == 6 and cfg["method_args"]["temperature"] == 0.2
    assert (pretrained_run / "checkpoints" / "last.ckpt").is_file()
    assert (pretrained_run / "exported" / "backbone.safetensors").is_file()
    rows = list(csv.DictReader((pretrained_run / "metrics.csv").open()))
    losses = [float(r["train/loss_step"]) for r in rows if r.get("train/loss_step")]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert not (pretrained_run / "run.lock").exists()


def test_pretrain__refuses_existing_out(pretrained_run, capsys):
    before = (pretrained_run / "exported" / "backbone.safetensors").read_bytes()
    code = main(["pretrain", "--data", "fashion-mnist", "--out", str(pretrained_run), "--steps", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (pretrained_run / "exported" / "backbone.safetensors").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["--data", "/no/such/folder"], "/no/such/folder"),
    (["--data", "fashion-mnist", "--model", "torchvision/resnet181"], "resnet18"),
    (["--data", "fashion-mnist", "--method", "simclrr"], "simclr"),
    (["--data", "fashion-mnist", "--batch-size", "lots"], "--batch-size"),
    (["--data", "fashion-mnist", "--method-args", "temprature=0.1"], "temperature"),
])
def test_pretrain__error_one_line_exit_2(tmp_path, capsys, args, message):
    code = main(["pretrain", *args, "--out", str(tmp_path / "r"), "--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_pretrain__resume_continues_from_checkpoint(tmp_path, fmnist_folder):
    out = tmp_path / "r"
    common = {"data": str(fmnist_folder), "steps": 4, "batch_size": 32, "progress": False, "monitor": False,
              "checkpoint_every": "2steps"}
    headstart.pretrain(out=out, **common)
    first = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert first["global_step"] == 4
    headstart.pretrain(out=out, resume=True, **{**common, "steps": 8})
    second = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert second["global_step"] == 8
    steps = [int(r["step"]) for r in csv.DictReader((out / "metrics.csv").open()) if r.get("train/loss_step")]
    assert steps == list(range(8))  # metrics kept, continued, not restarted


def test_export__torchvision_loads_into_plain_model(tmp_path, fmnist_folder):
    import torchvision

    out = tmp_path / "r18"
    headstart.pretrain(data=str(fmnist_folder), model="torchvision/resnet18", steps=2, batch_size=32,
                       image_size=32, out=out, progress=False, monitor=False)
    assert main(["export", "--run", str(out), "--format", "torchvision", "--out", str(tmp_path / "r18.pt")]) == 0
    plain = torchvision.models.resnet18()
    plain.load_state_dict(torch.load(tmp_path / "r18.pt"))  # strict, no headstart involved
    plain.fc = torch.nn.Identity()
    ours = load_run_backbone(out).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain.eval()(ours.prepare(x)), ours(x), atol=1e-5)


def test_export__finetuned_torchvision_run_keeps_its_fc_head(tmp_path, fmnist_folder):
    import torchvision

    from headstart.adapt.head import load_classifier

    pre, ft = tmp_path / "r18", tmp_path / "r18-ft"
    headstart.pretrain(data=str(fmnist_folder), model="torchvision/resnet18", steps=1, batch_size=16,
                       image_size=32, out=pre, progress=False, monitor=False)
    headstart.finetune(from_=str(pre), data=str(fmnist_folder), per_class=4, strategy="full", steps=2,
                       batch_size=8, test_split=False, out=ft, progress=False)
    assert main(["export", "--run", str(ft), "--format", "torchvision", "--out", str(tmp_path / "ft.pt")]) == 0
    state = torch.load(tmp_path / "ft.pt")
    plain = torchvision.models.resnet18(num_classes=state["fc.weight"].shape[0])
    plain.load_state_dict(state)  # strict: backbone and the fine-tuned fc, no headstart involved
    ours, _ = load_classifier(Run(ft))
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain.eval()(ours.backbone.prepare(x)), ours.eval()(x), atol=1e-4)


def test_export__onnx_matches_the_backbone_at_any_input_size(pretrained_run, tmp_path):
    import onnxruntime as ort

    assert main(["export", "--run", str(pretrained_run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    ours = load_run_backbone(pretrained_run).eval()
    for side in (28, 37, 64):  # the 2x2 grid pooling must follow the input size (37: overlapping cells)
        x = torch.rand(3, 3, side, side)
        (got,) = session.run(None, {"images": x.numpy()})
        with torch.no_grad():
            assert np.abs(got - ours(x).numpy()).max() < 1e-4, side


def test_embed__npy_and_index(pretrained_run, fmnist_folder, tmp_path):
    assert main(["embed", "--run", str(pretrained_run), "--data", str(fmnist_folder), "--out", str(tmp_path / "e"),
                 "--no-progress"]) == 0
    emb = np.load(tmp_path / "e" / "embeddings.npy")
    rows = list(csv.DictReader((tmp_path / "e" / "index.csv").open()))
    assert emb.shape == (320, 1024) and len(rows) == 320
    assert {r["label"] for r in rows} == {"T-shirt-top", "Trouser", "Sneaker", "Ankle boot"}
    assert np.isfinite(emb).all() and emb.std(0).mean() > 0


def test_cli__entry_point_runs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "headstart.cli.main", "list-methods"], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and "simclr" in out.stdout and "byol" in out.stdout
