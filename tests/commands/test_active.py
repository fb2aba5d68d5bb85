"""One tiny active-learning run end to end: select -> fine-tune on exactly the picks -> select again."""

from __future__ import annotations

import json


def test_active_learning__two_rounds(pretrained_run, fmnist_folder, tmp_path):
    import headstart

    out = tmp_path / "al"
    rounds = headstart.active_learning(run=pretrained_run, data=str(fmnist_folder), rounds=2, n=24,
                                       strategy="uncertain", first_strategy="diverse", epochs=1,
                                       batch_size=16, out=out)
    assert [r["round"] for r in rounds] == [1, 2]
    assert [r["strategy"] for r in rounds] == ["diverse", "uncertain"]
    assert [r["labeled"] for r in rounds] == [24, 48]
    first, second = rounds[0]["indices"], rounds[1]["indices"]
    assert len(set(first + second)) == 48  # round 2 never re-picks a labeled image
    assert json.loads((out / "rounds.json").read_text()) == rounds
    # round 2 fine-tuned on exactly the 48 picked rows
    subset = json.loads((out / "round-2" / "subset.json").read_text())
    assert sorted(subset["train"] + subset["val"]) == sorted(first + second)
    assert (out / "round-2" / "exported" / "model.safetensors").is_file()


def test_active_cli__one_round_prints_it_and_writes_rounds_json(pretrained_run, fmnist_folder, tmp_path, capsys):
    from headstart.cli.main import main

    out = tmp_path / "al-cli"
    assert main(["active", "--run", str(pretrained_run), "--data", str(fmnist_folder), "--rounds", "1",
                 "--n", "16", "--epochs", "1", "--batch-size", "16", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rounds = json.loads((out / "rounds.json").read_text())
    assert [r["labeled"] for r in rounds] == [16] and rounds[0]["strategy"] == "diverse"
    assert "round 1: 16 labeled (diverse)" in printed and str(out / "rounds.json") in printed
