"""simcse: dropout is the only augmentation (two encodings of a document differ, in eval mode they
agree), the InfoNCE loss on real fortunes documents goes down for an encoder and a decoder, and an
image model is refused."""

from __future__ import annotations

import pytest
import torch
from text_helpers import batch, build_text, losses_on

from headstart.errors import HeadstartError
from headstart.models.factory import create_backbone


@pytest.mark.parametrize("model", ["headstart/bert-mini", "headstart/gpt-mini"])
def test_simcse__two_dropout_masks_are_the_augmentation(model):
    method = build_text("simcse", model=model)
    ids = batch("simcse", model, 8)
    method.train()
    a, b = method.backbone(ids), method.backbone(ids)
    assert (a - b).abs().max() > 1e-3  # gpt-mini has no dropout of its own: the method gave it some
    method.eval()
    assert torch.allclose(method.backbone(ids), method.backbone(ids))


@pytest.mark.parametrize("model", ["headstart/bert-mini", "headstart/gpt-mini"])
def test_simcse__loss_decreases_on_fortunes(model):
    method = build_text("simcse", model=model, batch_size=32)
    method.train()
    torch.manual_seed(0)
    losses = losses_on(method, batch("simcse", model, 32), steps=6, lr=3e-4)
    assert losses[-1] < losses[0] * 0.7, losses


def test_simcse__image_model_is_refused_in_one_line():
    from headstart.config import parse
    from headstart.methods import method_class
    from headstart.train.module import Plan

    cls = method_class("simcse")
    with pytest.raises(HeadstartError, match="pretrains text models; headstart/resnet-mini is an image model"):
        cls(create_backbone("headstart/resnet-mini"), parse(cls.config_cls, {}),
            Plan(total_steps=1, batch_size=2, image_size=28, lr=1e-3, weight_decay=0.0), tokenizer=None)
