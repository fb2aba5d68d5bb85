"""Exact match by one teacher-forced pass agrees with `transformers`' greedy `generate`."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from headstart.adapt.instruct_infer import answer_logps, greedy_matches
from headstart.data.text.instruct import Example, InstructSet, PadCollate, prompt_ids
from headstart.data.text.instruct_sources import open_examples
from tests.adapt.lm_helpers import tiny_lm, tokenizer


@pytest.mark.parametrize("max_length", [256, 48])  # whole prompts; prompts cut (the same for every answer)
def test_greedy_matches__agree_with_generate_after_overfitting(max_length):
    tok = tokenizer()
    examples = open_examples("fortunes-instruct-topic:test")[:6]
    data = InstructSet(examples, tok, max_length=max_length)
    model = tiny_lm(width=64)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    ids, labels, mask, _ = PadCollate(tok.pad_token_id)([data[i] for i in range(4)])  # learn 4 of the 6
    for _ in range(60):
        loss = F.cross_entropy(model(ids, mask)[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    swapped = [Example((*e.prompt, {"role": "assistant", "content": "sports"}), e.origin) for e in examples[:2]]
    scored = InstructSet(examples + swapped, tok, max_length=max_length)
    keep = max_length - scored.answer_room
    assert (max_length < 256) == any(len(prompt_ids(tok, e.prompt)) > keep for e in examples)
    fast = greedy_matches(model, scored)
    lm = model.hf_model().eval()
    slow = []
    for ex in scored.examples:
        prompt = torch.tensor([prompt_ids(tok, ex.prompt)[-keep:]])
        with torch.no_grad():
            out = lm.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id,
                              eos_token_id=tok.eos_token_id)
        new = out[0, prompt.shape[1]:].tolist()
        ended = tok.eos_token_id in new
        slow.append(ended and tok.decode(new[:new.index(tok.eos_token_id)]) == ex.answer)
    assert fast.tolist() == slow
    assert fast[:4].sum() >= 2 and not fast[6:].any()  # learned answers match; swapped ones cannot


def test_answer_logps__chosen_rows_then_rejected():
    tok = tokenizer()
    pairs = open_examples("fortunes-instruct-lang:test", kind="pref")[:3]
    logps, counts = answer_logps(tiny_lm(), InstructSet(pairs, tok, max_length=96))
    assert logps.shape == (3, 2) and (logps < 0).all()
    assert counts[:, 0].tolist() == [len(tok(p.chosen + "</s>", add_special_tokens=False)["input_ids"]) for p in pairs]
