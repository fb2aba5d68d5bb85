"""`finetune --semi`: the unlabeled rest of the data joins fine-tuning, with every strategy and from
scratch; results.json records it; a resumed run ends with the weights of an uninterrupted one."""

from __future__ import annotations

import json

import pytest
import torch

from headstart.adapt.semi.module import SemiFinetuneModule
from headstart.errors import HeadstartError
from tests.adapt.conftest import finetune_fast

SCRATCH = {"from_": "scratch", "model": "headstart/resnet-mini", "data": "fashion-mnist", "per_class": 10,
           "strategy": "full", "batch_size": 16, "semi_ratio": 2, "test_split": False, "epochs": None}


def results(out) -> dict:
    return json.loads((out / "results.json").read_text())


def test_semi__from_scratch_on_fashion_mnist_records_the_unlabeled_term(tmp_path):
    out = tmp_path / "flex"
    finetune_fast(out, **SCRATCH, steps=6, semi="flexmatch", semi_align=True)
    semi = results(out)["semi"]
    assert {k: semi[k] for k in ("method", "ratio", "threshold", "weight", "align")} == {
        "method": "flexmatch", "ratio": 2, "threshold": 0.95, "weight": 1.0, "align": True}
    # 100 labeled (90 train + 10 validation) of the 60,000 training images; the rest is the pool
    assert semi["unlabeled_images"] == 59_900 and semi["unlabeled_batches"] == 6
    # FlexMatch's warm-up: nothing is learned yet, so every thresholds is ~0 and nearly everything is kept
    assert semi["mask_rate"] > 0.9 and max(semi["thresholds"]) < 0.2 and len(semi["thresholds"]) == 10
    assert 0.0 <= semi["pseudo_label_accuracy"] <= 1.0 and 0.0 <= semi["unlabeled_accuracy"] <= 1.0
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "train/mask_rate" in header and "train/pseudo_acc" in header


def final_state(out) -> dict[str, torch.Tensor]:
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    state = dict(ckpt["state_dict"])
    for i, s in ckpt["optimizer_states"][0]["state"].items():
        state.update({f"adam.{i}.{k}": torch.as_tensor(v) for k, v in s.items()})
    return state | {"drawn": torch.tensor(ckpt["headstart_semi"]["drawn"])}


def test_semi__a_run_stopped_midway_and_resumed_ends_as_an_uninterrupted_one(tmp_path, stop_training_at):
    opts = {**SCRATCH, "steps": 8, "seed": 2, "semi": "fixmatch", "semi_threshold": 0.3, "blend": None,
            "checkpoint_every": "1steps", "epochs": 2}  # the resolved length: --resume refuses another
    finetune_fast(tmp_path / "whole", **opts)
    undo = stop_training_at(SemiFinetuneModule, 5)
    with pytest.raises(RuntimeError, match="stopped"):
        finetune_fast(tmp_path / "cut", **opts)
    undo()
    finetune_fast(tmp_path / "cut", **opts, resume=True)
    whole, cut = final_state(tmp_path / "whole"), final_state(tmp_path / "cut")
    assert whole["drawn"].item() == 8 and whole.keys() == cut.keys()
    assert "semi.threshold.tau" in whole and "semi.recent" in whole
    different = [k for k in whole if not torch.equal(whole[k], cut[k])]
    assert not different, different[:5]


@pytest.mark.parametrize("strategy", ["linear", "lp-ft", "lora", "freeze"])
def test_semi__every_strategy_trains_with_the_unlabeled_term(tmp_path, pretrained_run, ft_root, strategy):
    out = tmp_path / strategy
    finetune_fast(out, from_=str(pretrained_run), data=str(ft_root), labels="25%", strategy=strategy,
                  batch_size=16, epochs=None, steps=3, semi="freematch", test_split=False)
    semi = results(out)["semi"]
    # 60 of 240 images labeled; the 180 others are the pool, 3 steps of 32 drawn from it
    assert semi["unlabeled_images"] == 180 and semi["unlabeled_batches"] == 3
    assert 0.0 <= semi["mask_rate"] <= 1.0 and semi["method"] == "freematch"


@pytest.mark.parametrize(("options", "message"), [
    ({"semi": "fixmatch", "self_train": 1}, "--semi and --self-train"),
    ({"unlabeled_data": "fashion-mnist"}, "--unlabeled-data is read by --self-train and --semi only"),
    ({"semi": "fixmatch", "per_class": None, "labels": None},
     "no unlabeled images for --self-train / --semi"),
])
def test_semi__option_errors_name_the_fix(tmp_path, options, message):
    with pytest.raises(HeadstartError, match=message):
        finetune_fast(tmp_path / "bad", **{**SCRATCH, "steps": 2} | options)
