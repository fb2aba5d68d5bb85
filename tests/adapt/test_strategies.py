"""The shared strategy table: one row per strategy (a new strategy adds a row).

Each row fine-tunes the shared pretrained resnet-mini for 2 epochs on 216 real Fashion-MNIST
images (4 classes) and checks (a) which layer groups of the backbone changed and which stayed
exactly as pretrained, and (b) accuracy on 160 held-out test images well above chance (25%).
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from headstart.adapt.strategies import list_strategies
from headstart.models.factory import create_backbone
from tests.adapt.conftest import finetune_fast

# resnet-mini's layer groups: stem, stages.0 .. stages.3
N_GROUPS = 5
STRATEGY_TABLE = [
    # (id, options, groups expected to change (False: identical to the start), min test accuracy)
    ("linear", {"strategy": "linear"}, [False] * 5, 0.45),
    ("full", {"strategy": "full"}, [True] * 5, 0.45),
    ("lp-ft", {"strategy": "lp-ft"}, [True] * 5, 0.6),
    ("lora", {"strategy": "lora", "lora_rank": 4}, [False, False, True, True, True], 0.45),
    ("freeze", {"strategy": "freeze", "freeze_blocks": 3}, [False, False, False, True, True], 0.45),
    (
        "freeze-gradual",
        {"strategy": "freeze", "freeze_blocks": 3, "unfreeze_every": 1},
        [False, False, True, True, True],
        0.45,
    ),
]


def test_strategy_table__covers_every_registered_strategy():
    # qlora quantises the Linear layers of transformer blocks, which resnet-mini has none of: its rows are
    # tests/adapt/test_qlora.py (a Llama) and tests/commands/test_instruct.py
    assert {opts["strategy"] for _, opts, _, _ in STRATEGY_TABLE} == set(list_strategies()) - {"qlora"}


def group_of_keys(model: str) -> dict[str, int]:
    """State-dict key -> index of the layer group its module's parameters belong to."""
    backbone = create_backbone(model)
    owner = {id(p): i for i, params in enumerate(backbone.layer_groups()) for p in params}
    out = {}
    for name, module in backbone.module.named_modules():
        params = list(module.parameters(recurse=False))
        if params:
            for key in module.state_dict(keep_vars=False):
                if "." not in key:
                    out[f"{name}.{key}" if name else key] = owner[id(params[0])]
    return out


@pytest.mark.parametrize("row", STRATEGY_TABLE, ids=[r[0] for r in STRATEGY_TABLE])
def test_strategy__params_and_accuracy(row, tmp_path, pretrained_run, ft_root):
    name, options, expect_changed, min_accuracy = row
    result = finetune_fast(tmp_path / name, from_=str(pretrained_run), data=str(ft_root), **options)
    start = load_file(str(pretrained_run / "exported" / "backbone.safetensors"))
    tuned = load_file(str(tmp_path / name / "exported" / "backbone.safetensors"))
    assert start.keys() == tuned.keys()  # LoRA merged: plain keys only
    groups = group_of_keys("headstart/resnet-mini")
    changed = [False] * N_GROUPS
    for key, group in groups.items():
        if not torch.equal(start[key], tuned[key]):
            changed[group] = True
    assert changed == expect_changed
    # frozen groups keep their BatchNorm statistics too (norms of frozen layers run in eval mode)
    for key in start:
        if "running_" in key and not expect_changed[groups[key.rsplit(".", 1)[0] + ".weight"]]:
            assert torch.equal(start[key], tuned[key]), key
    assert result.accuracy > min_accuracy
    results = json.loads((tmp_path / name / "results.json").read_text())
    assert results["strategy"] == options["strategy"]
    assert sum(sum(row) for row in results["confusion"]) == 160
    share = results["trainable_share"]
    assert (share < 0.01) if name == "linear" else (share < 0.1 if name == "lora" else share > 0.5)
