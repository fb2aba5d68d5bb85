"""The step progress bar: steps done / total (not Lightning's `Epoch 9/-2`), resumed runs included."""

from __future__ import annotations

import headstart
from headstart.train.progress import figures_text


def test_bar__counts_steps_of_the_run_and_continues_on_resume(tmp_path, fmnist_folder, capsys):
    out = tmp_path / "r"
    common = dict(data=str(fmnist_folder), batch_size=32, monitor=False, checkpoint_every_n_steps=2)
    headstart.pretrain(out=out, steps=4, progress=True, **common)
    first = capsys.readouterr().out
    assert "4/4" in first and "Epoch" not in first and "loss" in first
    headstart.pretrain(out=out, steps=8, resume=True, progress=True, **common)
    second = capsys.readouterr().out
    assert "8/8" in second and "Epoch" not in second


def test_figures__step_values_short_names_no_version():
    text = figures_text({"train/loss_step": 2.3651, "train/loss_epoch": 2.4, "img_s": 610.7,
                         "monitor/knn": 0.829, "v_num": 3})
    assert text == "loss 2.365  img_s 610.7  knn 0.829"
