"""Label subsets of a fine-tuning run: stratified, seeded, recorded in subset.json, reproducible."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import labeled_splits
from headstart.data.subsets import label_subset
from headstart.errors import HeadstartError
from headstart.train.trainer import checkpoint_step


def cfg(**kw) -> FinetuneConfig:
    return FinetuneConfig(
        **({"from_": "scratch", "model": "headstart/resnet-mini", "data": "fashion-mnist"} | kw)
    )


def test_labeled_splits__budget_is_stratified_and_validation_comes_from_it():
    splits = labeled_splits(cfg(labels="1%", seed=3))
    s = splits.subset
    assert len(s["train"]) + len(s["val"]) == 600
    assert s["train_per_class"] == [54] * 10 and s["val_per_class"] == [6] * 10
    assert not set(s["train"]) & set(s["val"])
    assert np.bincount(np.concatenate([splits.train.labels, splits.val.labels])).tolist() == [60] * 10
    assert sorted(s["train"] + s["val"]) == label_subset(_train_labels(), labels_budget="1%", seed=3).tolist()
    assert len(splits.test) == 10_000


def test_labeled_splits__same_seed_same_indices_other_seed_other():
    a, b, c = (labeled_splits(cfg(per_class=10, seed=s)).subset for s in (0, 0, 1))
    assert a == b and a["train"] != c["train"]
    assert a["train_per_class"] == [8] * 10 and a["val_per_class"] == [2] * 10


def test_labeled_splits__too_many_per_class_is_a_user_error():
    with pytest.raises(HeadstartError, match="fewer than 10000 per class"):
        labeled_splits(cfg(per_class=10_000))


def test_run__subset_json_is_written_and_resume_checks_it(tmp_path, ft_root):
    from tests.adapt.conftest import finetune_fast

    def run(labels: str, steps: int, resume: bool = False):
        return finetune_fast(
            tmp_path / "a",
            from_="scratch",
            model="headstart/resnet-mini",
            data=str(ft_root),
            labels=labels,
            steps=steps,
            test_split=False,
            resume=resume,
        )

    run("50%", 2)
    recorded = json.loads((tmp_path / "a" / "subset.json").read_text())
    again = labeled_splits(cfg(data=str(ft_root), labels="50%"))
    assert recorded == json.loads(json.dumps(again.subset))
    assert len(recorded["train"]) + len(recorded["val"]) == 120
    # --resume continues the run (to 4 steps) on the same subset; another budget is refused by name
    # (the run's saved config is its settings) before any other subset could be drawn
    run("50%", 4, resume=True)
    assert checkpoint_step(tmp_path / "a" / "checkpoints" / "last.ckpt") == 4
    with pytest.raises(HeadstartError, match="--labels 40% but the run used 50%"):
        run("40%", 6, resume=True)


def _train_labels():
    from headstart.data.idx import open_idx

    return open_idx("fashion-mnist", "train").labels
