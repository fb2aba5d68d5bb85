"""Parameter groups: backbone LR multiplier and layer-wise decay; frozen parameters stay put."""

from __future__ import annotations

import pytest
import torch

from headstart.adapt.groups import finetune_param_groups, lr_scales
from headstart.adapt.head import Classifier
from headstart.models.factory import create_backbone
from headstart.train.optim import build_optimizer


def test_lr_scales__layer_decay_from_the_top():
    assert lr_scales(3, 1.0, 0.5) == [0.125, 0.25, 0.5]
    assert lr_scales(2, 0.1, 1.0) == [0.1, 0.1]


def test_param_groups__every_parameter_once_with_its_depth_scale():
    model = Classifier(create_backbone("headstart/vit-tiny", image_size=28), ["a", "b", "c"])
    groups = finetune_param_groups(model, weight_decay=0.05, backbone_lr_mult=0.5, layer_decay=0.75)
    seen = [id(p) for g in groups for p in g["params"]]
    assert len(seen) == len(set(seen)) == len(list(model.parameters()))
    n = len(model.backbone.layer_groups())  # embeddings, 6 blocks, final norm
    assert n == 8
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert scale_of[id(model.head.weight)] == 1.0
    assert scale_of[id(model.backbone.module.norm.weight)] == pytest.approx(0.5 * 0.75)
    assert scale_of[id(model.backbone.module.blocks[0].attn.qkv.weight)] == pytest.approx(
        0.5 * 0.75 ** (n - 1)
    )
    assert scale_of[id(model.backbone.module.cls_token)] == pytest.approx(0.5 * 0.75**n)
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert wd_of[id(model.head.bias)] == 0.0 and wd_of[id(model.head.weight)] == 0.05


def test_param_groups__frozen_parameters_in_the_optimizer_do_not_move():
    """Gradual unfreezing keeps frozen parameters in the optimizer: no gradient, no update, no decay."""
    model = Classifier(create_backbone("headstart/resnet-mini"), ["a", "b"])
    stem = model.backbone.layer_groups()[0]
    for p in stem:
        p.requires_grad_(False)
    before = [p.detach().clone() for p in stem]
    head_before = model.head.weight.detach().clone()
    opt = build_optimizer(finetune_param_groups(model, weight_decay=0.5), "adamw", lr=0.1, weight_decay=0.5)
    loss = model(torch.rand(4, 1, 28, 28)).logsumexp(1).mean()
    loss.backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, stem, strict=True))
    assert not torch.equal(model.head.weight, head_before)
