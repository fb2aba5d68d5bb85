"""Instruction data: JSONL rows, the chat template, labels only on the answers, padding, bad lines."""

from __future__ import annotations

import json

import pytest
import torch

from headstart.data.text.instruct import (
    CHAT_TEMPLATE,
    IGNORE,
    InstructSet,
    PadCollate,
    encode,
    read_examples,
    render,
    with_chat_template,
)
from headstart.data.text.tokenizer import train_tokenizer
from headstart.errors import HeadstartError


@pytest.fixture(scope="module")
def tok(topic_train):
    return with_chat_template(train_tokenizer(topic_train.texts[:1500], vocab_size=1000, style="gpt"))


def write(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_encode__labels_only_the_answer_and_its_eos(tok, topic_train):
    text = topic_train.texts[0]
    chat = ({"role": "user", "content": text}, {"role": "assistant", "content": "computers"})
    ids, labels = encode(tok, chat, max_length=512)
    assert len(ids) == len(labels)
    scored = [i for i, lab in zip(ids, labels) if lab != IGNORE]
    assert tok.decode(scored) == "computers</s>"
    assert tok.decode(ids) == render(tok, chat)  # the pieces add up to the whole rendered chat
    assert tok.chat_template == CHAT_TEMPLATE and ids[0] == tok.bos_token_id


def test_encode__every_assistant_turn_of_a_chat_is_learned(tok):
    chat = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say a."},
            {"role": "assistant", "content": "a"}, {"role": "user", "content": "Say bee."},
            {"role": "assistant", "content": "bee"})
    ids, labels = encode(tok, chat, max_length=512)
    scored = tok.decode([i for i, lab in zip(ids, labels) if lab != IGNORE])
    assert scored == "a</s>\n\nbee</s>" or scored.replace("\n\n", "") == "a</s>bee</s>"


def test_encode__too_long_keeps_the_end_with_the_answer(tok, topic_train):
    chat = ({"role": "user", "content": " ".join(topic_train.texts[:5])}, {"role": "assistant", "content": "law"})
    ids, labels = encode(tok, chat, max_length=24)
    assert len(ids) == 24 and tok.decode([i for i, lab in zip(ids, labels) if lab != IGNORE]) == "law</s>"


def test_read_examples__both_formats_and_bad_lines_skipped_with_file_line(tmp_path):
    path = write(tmp_path, [{"prompt": "Hi", "response": "Hello"},
                            {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]},
                            "{not json", {"prompt": "no response"}, [1, 2]])
    with pytest.warns(UserWarning) as caught:
        examples = read_examples(path, kind="sft")
    assert [e.answer for e in examples] == ["Hello", "A"]
    warned = " ".join(str(w.message) for w in caught)
    assert "d.jsonl:3" in warned and "d.jsonl:4" in warned and "d.jsonl:5" in warned


def test_read_examples__nothing_usable_is_one_error(tmp_path):
    with pytest.warns(UserWarning), pytest.raises(HeadstartError, match="no usable example"):
        read_examples(write(tmp_path, [{"prompt": "a"}]), kind="pref")


def test_pad_collate__pairs_right_padded_with_masks(tok):
    from headstart.data.text.instruct import Example

    pairs = [Example(({"role": "user", "content": "Which?"},), "x:1", "law", "a much longer rejected answer"),
             Example(({"role": "user", "content": "Another question here?"},), "x:2", "food", "art")]
    data = InstructSet(pairs, tok, max_length=64)
    ids, labels, mask, index = PadCollate(tok.pad_token_id)([data[0], data[1]])
    assert ids.shape[0] == 4 and index.tolist() == [0, 1]
    assert torch.equal(mask.bool(), ids != tok.pad_token_id)
    assert ((labels != IGNORE) <= mask.bool()).all()  # padding is never a target
    assert tok.decode(ids[2][labels[2] != IGNORE]) == "a much longer rejected answer</s>"  # row 2: pair 0 rejected


def test_instruct_set__a_cut_prompt_does_not_depend_on_its_answer(tok, topic_train):
    from headstart.data.text.instruct import Example

    prompt = ({"role": "user", "content": " ".join(topic_train.texts[:5])},)
    pairs = [Example(prompt, "x:1", "law", "a much longer rejected answer with many more words in it"),
             Example(prompt, "x:2", "computers and science", "art")]
    data = InstructSet(pairs, tok, max_length=48)
    rows = [row for item, _ in (data[0], data[1]) for row in item]
    heads = [ids[:int((labels != IGNORE).argmax())].tolist() for ids, labels in rows]  # up to the answer
    assert all(h == heads[0] for h in heads)  # four answers of three lengths: one prompt, cut once
    assert all(len(ids) <= 48 for ids, _ in rows)
    room = data.answer_room
    assert room == len(tok("computers and science</s>", add_special_tokens=False)["input_ids"])
    assert len(heads[0]) == 48 - room
    # the long rejected answer is cut to what is left; the chosen ones are whole
    assert tok.decode(rows[1][0][rows[1][1] != IGNORE]).startswith("a much longer")
    assert tok.decode(rows[2][0][rows[2][1] != IGNORE]) == "computers and science</s>"


def test_encode__without_a_room_keeps_the_whole_chat_when_it_fits(tok):
    chat = ({"role": "user", "content": "Which?"}, {"role": "assistant", "content": "law"})
    whole, _ = encode(tok, chat, max_length=512)
    assert encode(tok, chat, max_length=512, answer_room=2) == encode(tok, chat, max_length=512)
    cut, labels = encode(tok, chat, max_length=len(whole), answer_room=len(whole) // 2)
    assert len(cut) < len(whole) and tok.decode([i for i, lab in zip(cut, labels) if lab != IGNORE]) == "law</s>"
