"""The fortunes instruction task: answers among the options named in the prompt, splits disjoint from
everything a model trains on, preference pairs with wrong classes or prompt copies as rejected."""

from __future__ import annotations

import numpy as np

from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.fortunes_instruct import PER_CLASS
from headstart.data.text.instruct_sources import eval_views, open_examples


def test_fortunes_instruct__answer_is_one_of_the_named_options():
    examples = open_examples("fortunes-instruct", split="test")
    per_topic = np.bincount(open_fortunes("fortunes-topic", split="test").labels)
    cap = PER_CLASS["topic", "test"]
    assert len(examples) == np.minimum(per_topic, cap).sum() + 8 * PER_CLASS["lang", "test"]
    for ex in examples:
        options = ex.messages[0]["content"].rsplit("Answer with one of: ", 1)[1].rstrip(".").split(", ")
        assert ex.answer in options
    answers = {ex.answer for ex in examples}
    assert {"computers", "english", "russian"} <= answers


def test_fortunes_instruct__test_texts_never_in_pretraining_or_training_data():
    def origins(examples):
        return {ex.origin.rsplit(" (", 1)[0] for ex in examples}

    test = origins(open_examples("fortunes-instruct", split="test"))
    train = origins(open_examples("fortunes-instruct", split="train"))
    assert len(test) > 500 and not test & train
    assert not test & set(open_fortunes("fortunes", split="train").origins)
    assert test <= set(open_fortunes("fortunes", split="test").origins)


def test_fortunes_prefs__chosen_right_rejected_wrong_class_or_copy():
    sft, pairs = eval_views("fortunes-instruct-topic:test")
    assert [p.chosen for p in pairs] == [e.answer for e in sft]
    copies = np.mean([p.rejected not in ("art", "computers", "drugs", "education", "food", "law", "love",
                                         "medicine", "politics", "science", "sports", "work") for p in pairs])
    assert all(p.chosen != p.rejected for p in pairs)
    assert 0.15 < copies < 0.35  # one in four is a copy of the text's first words
