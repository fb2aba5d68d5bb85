"""TF-IDF + logistic regression on the real fortunes topic task: the figure the text study's
baseline curve stands on, and the rule that it sees the labeled texts only."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.data.subsets import label_subset
from headstart.data.text.fortunes import open_fortunes
from headstart.errors import HeadstartError
from headstart.eval.tfidf import fit_tfidf, tfidf_accuracy


@pytest.fixture(scope="module")
def topics():
    return open_fortunes("fortunes-topic", split="train"), open_fortunes("fortunes-topic", split="test")


def test_tfidf__ten_labels_per_class_on_fortunes_topic(topics):
    """12 topics, chance 8%: bench/text_tfidf.py measured 28.0 +- 6.0% over 3 seeds at 10/class."""
    train, test = topics
    idx = label_subset(train.labels, per_class=10, seed=0)
    texts = [train.texts[i] for i in idx]
    scores = tfidf_accuracy(texts, train.labels[idx], {"test": (test.texts, test.labels),
                                                       "train": (texts, train.labels[idx])})
    assert 0.18 < scores["test"] < 0.40
    assert scores["train"] > 0.95  # C=10 fits its few labels


def test_tfidf__more_labels_do_better(topics):
    train, test = topics
    accs = []
    for k in (10, 50):
        idx = label_subset(train.labels, per_class=k, seed=0)
        accs.append(tfidf_accuracy([train.texts[i] for i in idx], train.labels[idx],
                                   {"test": (test.texts, test.labels)})["test"])
    assert accs[1] > accs[0] + 0.05


def test_tfidf__vocabulary_comes_from_the_labeled_texts_only():
    model = fit_tfidf(["the cat sat", "a dog ran"], [0, 1])
    vocab = model.steps[0][1].vocabulary_
    assert " ca" in vocab and "zebr" not in vocab
    assert model.predict(["zebra zebra"]).shape == (1,)


def test_tfidf__one_class_is_refused():
    with pytest.raises(HeadstartError, match="at least two classes"):
        fit_tfidf(["a", "b"], np.array([1, 1]))
