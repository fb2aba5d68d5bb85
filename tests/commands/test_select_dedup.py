"""`headstart select` / `headstart dedup` end to end on real Fashion-MNIST PNGs."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from headstart.cli.main import main


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_select__diverse_csv_sheet_and_exclude(pretrained_run, fmnist_folder, tmp_path):
    files = sorted(str(p) for p in Path(fmnist_folder).rglob("*.png"))
    excluded = files[::4]  # 80 of 320 already labeled
    (tmp_path / "labeled.csv").write_text("path,label\n" + "".join(f"{p},x\n" for p in excluded))
    out = tmp_path / "to_label.csv"
    code = main(["select", "--run", str(pretrained_run), "--data", str(fmnist_folder), "--n", "30",
                 "--strategy", "diverse", "--exclude", str(tmp_path / "labeled.csv"), "--out", str(out),
                 "--no-progress"])
    assert code in (0, None)
    picked = rows(out)
    assert [int(r["rank"]) for r in picked] == list(range(1, 31))
    assert {r["strategy"] for r in picked} == {"diverse"}
    paths = [r["path"] for r in picked]
    assert len(set(paths)) == 30 and all(Path(p).is_file() for p in paths)
    assert not set(paths) & set(excluded)
    sheet = Image.open(f"{out}.png")
    assert sheet.size == (10 * 64, 3 * 64)  # 30 picks: 3 rows of 10
    # diverse picks cover the 4 real classes, not one cluster
    assert len({Path(p).parent.name for p in paths}) == 4


def test_select__uncertain_needs_a_finetuned_run(pretrained_run, fmnist_folder, tmp_path, capsys):
    code = main(["select", "--run", str(pretrained_run), "--data", str(fmnist_folder), "--n", "5",
                 "--strategy", "uncertain", "--out", str(tmp_path / "x.csv"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "fine-tuned" in err[0]
    assert not (tmp_path / "x.csv").exists()


def test_select__blend_weights_must_match(pretrained_run, fmnist_folder, tmp_path, capsys):
    code = main(["select", "--run", str(pretrained_run), "--data", str(fmnist_folder), "--n", "5",
                 "--strategy", "diverse+typical", "--blend-weights", "1", "--out", str(tmp_path / "x.csv")])
    assert code == 2 and "--blend-weights" in capsys.readouterr().err


def test_select__blend_and_round_record(pretrained_run, fmnist_folder, tmp_path):
    import json

    import headstart

    out = headstart.select(run=pretrained_run, data=str(fmnist_folder), n=12, strategy="diverse+typical",
                           blend_weights=[0.7, 0.3], out=tmp_path / "r1.csv", round=1, progress=False)
    assert len(rows(out)) == 12 and rows(out)[0]["strategy"] == "diverse+typical"
    rounds = json.loads((tmp_path / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == [1] and rounds[0]["n"] == 12
    assert rounds[0]["paths"] == [r["path"] for r in rows(out)]


@pytest.fixture()
def planted(fmnist_folder, tmp_path) -> tuple[Path, list[tuple[str, str]]]:
    """A copy of two classes of the folder plus 3 byte-identical copies under new names."""
    root = tmp_path / "images"
    for cls in sorted(p.name for p in Path(fmnist_folder).iterdir())[:2]:
        shutil.copytree(Path(fmnist_folder) / cls, root / cls)
    originals = sorted((root).rglob("*.png"))[:3]
    pairs = []
    for i, src in enumerate(originals):
        dst = src.parent / f"copy-{i}.png"
        shutil.copy(src, dst)
        pairs.append((str(src), str(dst)))
    return root, pairs


def groups_of(path: Path) -> list[set[str]]:
    by_group: dict[str, set[str]] = {}
    for r in rows(path):
        by_group.setdefault(r["group"], set()).add(r["path"])
    return list(by_group.values())


def test_dedup__exact_groups_planted_copies(planted, tmp_path):
    root, pairs = planted
    out = tmp_path / "dups.csv"
    assert main(["dedup", "--data", str(root), "--exact", "--out", str(out)]) in (0, None)
    found = groups_of(out)
    assert sorted(map(sorted, found)) == sorted(sorted(p) for p in pairs)
    assert {float(r["similarity"]) for r in rows(out)} == {1.0}
    assert sorted(r["keep"] for r in rows(out)) == ["0"] * 3 + ["1"] * 3


def test_dedup__near_duplicates_contain_planted(planted, pretrained_run, tmp_path):
    root, pairs = planted
    out = tmp_path / "near.csv"
    assert main(["dedup", "--run", str(pretrained_run), "--data", str(root), "--threshold", "0.9999",
                 "--out", str(out), "--no-progress"]) in (0, None)
    found = groups_of(out)
    for a, b in pairs:
        assert any({a, b} <= g for g in found)
    for r in rows(out):
        assert 0.9999 - 1e-6 <= float(r["similarity"]) <= 1 + 1e-5
    keep = {}
    for r in rows(out):  # the representative opens its group and is the one image kept
        keep.setdefault(r["group"], []).append(r["keep"])
    assert all(k == ["1"] + ["0"] * (len(k) - 1) for k in keep.values())


def test_dedup__similarity_needs_a_run(planted, tmp_path, capsys):
    root, _ = planted
    assert main(["dedup", "--data", str(root), "--out", str(tmp_path / "d.csv")]) == 2
    assert "--run" in capsys.readouterr().err


def test_select_then_dedup_embed_once_until_the_weights_or_images_change(pretrained_run, fmnist_folder, tmp_path,
                                                                        monkeypatch):
    from headstart.commands import _embeddings

    run = tmp_path / "run"
    shutil.copytree(pretrained_run, run, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    data = tmp_path / "images"
    shutil.copytree(fmnist_folder, data)
    calls = []
    embed = _embeddings.embed
    monkeypatch.setattr(_embeddings, "embed", lambda *a, **k: calls.append(1) or embed(*a, **k))
    common = ["--run", str(run), "--data", str(data), "--no-progress"]
    assert main(["select", *common, "--n", "5", "--out", str(tmp_path / "a.csv")]) in (0, None)
    assert main(["dedup", *common, "--out", str(tmp_path / "d.csv")]) in (0, None)
    assert len(calls) == 1 and len(list((run / "cache").glob("*/embeddings.npy"))) == 1
    next(data.rglob("*.png")).unlink()  # other images: another cache entry
    assert main(["select", *common, "--n", "5", "--out", str(tmp_path / "b.csv")]) in (0, None)
    assert len(calls) == 2 and len(list((run / "cache").glob("*/embeddings.npy"))) == 2
    (run / "exported" / "backbone.safetensors").touch()  # newer weights: the cache is stale
    assert main(["dedup", *common, "--out", str(tmp_path / "e.csv")]) in (0, None)
    assert len(calls) == 3


def test_embed_shares_its_files_with_select_which_then_only_lists_the_folder(pretrained_run, fmnist_folder, tmp_path, monkeypatch):
    from headstart.commands import _embeddings
    from headstart.data import folder

    run = tmp_path / "run"
    shutil.copytree(pretrained_run, run, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    assert main(["embed", "--run", str(run), "--data", str(fmnist_folder), "--out", str(tmp_path / "emb"),
                 "--no-progress"]) in (0, None)
    (cached,) = (run / "cache").glob("*/embeddings.npy")
    assert cached.stat().st_ino == (tmp_path / "emb" / "embeddings.npy").stat().st_ino  # a link, not a copy
    monkeypatch.setattr(_embeddings, "embed", lambda *a, **k: pytest.fail("embedded again"))
    monkeypatch.setattr(folder, "_decode_all", lambda *a, **k: pytest.fail("the whole folder decoded"))
    assert main(["select", "--run", str(run), "--data", str(fmnist_folder), "--n", "5", "--out",
                 str(tmp_path / "a.csv"), "--no-progress"]) in (0, None)
