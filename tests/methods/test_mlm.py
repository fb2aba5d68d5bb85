"""mlm: BERT's masking statistics on real fortunes text, the tied head, the loss going down, and a
decoder refused in one line."""

from __future__ import annotations

import pytest
import torch
from text_helpers import batch, build_text, documents, losses_on, tokenizer

from headstart.data.text.masking import IGNORE, mask_tokens
from headstart.errors import HeadstartError


def test_mask_tokens__15_percent_of_real_tokens_80_10_10_on_fortunes():
    tok = tokenizer("bert")
    ids = documents("bert", 64).packed(64).__getitems__(list(range(600)))[0]  # (600, 64): 38,400 positions
    special = sorted(set(tok.all_special_ids))
    inputs, labels = mask_tokens(ids, mask_id=tok.mask_token_id, vocab_size=len(tok), special_ids=special,
                                 generator=torch.Generator().manual_seed(1))
    eligible = ~torch.isin(ids, torch.tensor(special))
    chosen = labels != IGNORE
    assert eligible.float().mean() < 0.99  # the windows hold separators, which must never be chosen
    assert not (chosen & ~eligible).any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert abs(chosen.sum().item() / eligible.sum().item() - 0.15) < 0.01
    masked = (inputs == tok.mask_token_id) & chosen
    replaced = (inputs != ids) & ~masked & chosen
    kept = (inputs == ids) & chosen
    n = chosen.sum().item()
    assert abs(masked.sum().item() / n - 0.8) < 0.02
    assert abs(replaced.sum().item() / n - 0.1) < 0.015
    assert abs(kept.sum().item() / n - 0.1) < 0.015
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else touched
    assert not torch.isin(inputs[replaced], torch.tensor(special)).any()  # random tokens are ordinary ones


def test_mlm__head_is_tied_to_the_input_embedding():
    method = build_text("mlm", model="headstart/bert-mini")
    assert method.head.predictions.decoder.weight is method.backbone.module.get_input_embeddings().weight
    assert method.lm_model().bert is method.backbone.module
    n_unique = len({id(p) for p in method.parameters()})
    assert sum(len(g["params"]) for g in method.configure_optimizers().param_groups) == n_unique


def test_mlm__loss_decreases_on_fortunes():
    method = build_text("mlm", model="headstart/bert-mini")
    losses = losses_on(method, batch("mlm", "headstart/bert-mini", 16), steps=8, lr=1e-3)
    assert losses[0] > 6.0  # about ln(600) at the start
    assert losses[-1] < losses[0] - 0.5, losses


def test_mlm__decoder_is_refused_in_one_line():
    with pytest.raises(HeadstartError) as err:
        build_text("mlm", model="headstart/gpt-mini")
    assert "\n" not in str(err.value).strip()
    assert "--method mlm trains encoder models; headstart/gpt-mini is a decoder" in str(err.value)


def test_mlm__pretrains_without_dropout_by_default_and_the_model_keeps_its_own_rates():
    method = build_text("mlm", model="headstart/bert-mini")
    rates = {m.p for m in method.modules() if isinstance(m, torch.nn.Dropout)}
    assert rates == {0.0}
    assert method.backbone.module.config.hidden_dropout_prob == pytest.approx(0.1)  # what fine-tuning reads
    assert method.backbone.module.config.attention_probs_dropout_prob == pytest.approx(0.1)
    kept = build_text("mlm", model="headstart/bert-mini", dropout=None)
    assert {m.p for m in kept.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
