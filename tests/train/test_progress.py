"""The step progress bar: steps done / total (not Lightning's `Epoch 9/-2`), resumed runs included."""

from __future__ import annotations

import headstart
from headstart.train.progress import figures_text


def test_bar__counts_steps_of_the_run_and_continues_on_resume(tmp_path, fmnist_folder, capsys):
    out = tmp_path / "r"
    common = {"data": str(fmnist_folder), "batch_size": 32, "monitor": False, "checkpoint_every": "2steps"}
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


def test_plain_log__first_step_then_every_interval_then_last(monkeypatch):
    import io

    from headstart import progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    log = progress.PlainLog(stream, total=400, start_step=100, every_s=30.0)
    written = []
    for step in range(101, 401):
        clock[0] += 0.5  # 2 steps/s
        if log.due(step):
            log.write(step, f"loss {4 - step / 200:.3g}  img_s 512")
            written.append(step)
    assert written == [101, 161, 221, 281, 341, 400]  # every 60 steps = 30 s, and the last
    lines = stream.getvalue().splitlines()
    assert lines[1] == "step 161/400 (40%)  loss 3.19  img_s 512  elapsed 30s  eta 2m00s"
    assert lines[-1].startswith("step 400/400 (100%)") and lines[-1].endswith("elapsed 2m30s  eta 0s")


def test_plain_log__pretrain_to_a_file_has_plain_lines(tmp_path, fmnist_folder):
    import re
    import subprocess
    import sys

    out = tmp_path / "r"
    with (tmp_path / "log.txt").open("w") as log:
        subprocess.run([sys.executable, "-m", "headstart.cli.main", "pretrain", "--data", str(fmnist_folder),
                        "--steps", "5", "--batch-size", "32", "--no-monitor", "--out", str(out)],
                       stdout=log, stderr=subprocess.STDOUT, check=True, timeout=300)
    text = (tmp_path / "log.txt").read_text()
    steps = re.findall(r"^step (\d+)/5 \(\d+%\)  loss [\d.]+ .*elapsed \d+s  eta \d+s$", text, flags=re.MULTILINE)
    assert steps[0] == "1" and steps[-1] == "5", text
    assert "\x1b" not in text and "━" not in text  # no control codes, no bar
    assert all(len(line) < 120 for line in text.splitlines()), text
    assert text.splitlines()[-1].startswith("pretrained 5 steps in ")


def test_progress__plain_lines_in_a_log_file_nothing_when_disabled():
    import io

    from headstart.progress import progress

    stream = io.StringIO()
    with progress("decoding images", 2500, stream=stream, every_s=3600) as advance:
        for _ in range(3):
            advance(1000 if _ < 2 else 500)
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["decoding images 1000/2500 (40%)",
                                                        "decoding images 2500/2500 (100%)"]
    quiet = io.StringIO()
    with progress("x", 10, stream=quiet, enabled=False) as advance:
        advance(10)
    assert quiet.getvalue() == ""
