"""`headstart finetune --indices FILE`: fine-tune on exactly the listed rows of the training split."""

from __future__ import annotations

import pytest

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import labeled_splits, read_indices
from headstart.errors import HeadstartError


def test_indices__pool_is_exactly_the_file(tmp_path):
    rows = [5, 17, 3, 900, 1200, 44, 31, 7, 2500, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70]
    (tmp_path / "picked.txt").write_text("\n".join(map(str, rows)) + "\n")
    cfg = FinetuneConfig(from_="scratch", data="fashion-mnist", indices=tmp_path / "picked.txt",
                         test_split=False, out=tmp_path / "run")
    splits = labeled_splits(cfg)
    got = sorted(splits.subset["train"] + splits.subset["val"])
    assert got == sorted(rows)
    assert splits.subset["indices"] == str(tmp_path / "picked.txt")
    assert len(splits.train) + len(splits.val) == len(rows)


def test_indices__json_list_and_errors(tmp_path):
    (tmp_path / "a.json").write_text("[3, 1, 3, 2]")
    assert read_indices(tmp_path / "a.json", 10).tolist() == [1, 2, 3]
    (tmp_path / "b.txt").write_text("1\n10\n")
    with pytest.raises(HeadstartError, match=r"\[0, 10\)"):
        read_indices(tmp_path / "b.txt", 10)
    (tmp_path / "c.txt").write_text("1\nx\n")
    with pytest.raises(HeadstartError, match="integer"):
        read_indices(tmp_path / "c.txt", 10)
    cfg = FinetuneConfig(from_="scratch", data="fashion-mnist", indices=tmp_path / "a.json", labels="1%",
                         out=tmp_path / "run")
    with pytest.raises(HeadstartError, match="only one"):
        labeled_splits(cfg)
