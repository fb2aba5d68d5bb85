"""next-token: the causal loss on real fortunes text goes down, the head is the tied `lm_head`, its
logits are `LlamaForCausalLM`'s, and an encoder is refused in one line."""

from __future__ import annotations

import pytest
import torch
from text_helpers import batch, build_text, losses_on

from headstart.errors import HeadstartError


def test_next_token__loss_decreases_on_fortunes():
    method = build_text("next-token", model="headstart/gpt-mini")
    losses = losses_on(method, batch("next-token", "headstart/gpt-mini", 16), steps=8, lr=1e-3)
    assert losses[0] > 6.0
    assert losses[-1] < losses[0] - 1.0, losses


def test_next_token__logits_are_the_causal_lm_s_and_position_t_sees_only_the_past():
    method = build_text("next-token", model="headstart/gpt-mini").eval()
    ids = batch("next-token", "headstart/gpt-mini", 2)
    lm = method.lm_model()
    assert lm.lm_head.weight is method.backbone.module.embed_tokens.weight
    with torch.no_grad():
        ours = method.lm_logits(ids)
        assert torch.allclose(ours, lm(input_ids=ids).logits, atol=1e-5)
        changed = ids.clone()
        changed[:, 20:] = 7
        assert torch.allclose(method.lm_logits(changed)[:, :20], ours[:, :20], atol=1e-5)


def test_next_token__encoder_is_refused_in_one_line():
    with pytest.raises(HeadstartError) as err:
        build_text("next-token", model="headstart/bert-mini")
    assert "--method next-token trains decoder models; headstart/bert-mini is a encoder" not in str(err.value)
    assert "--method next-token trains decoder models; headstart/bert-mini is an encoder" in str(err.value)
