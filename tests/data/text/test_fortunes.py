"""The fortunes corpora: sizes per split, classes, disjoint hash splits, label subsets, missing packages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from headstart.data.sources import open_data
from headstart.data.subsets import label_subset
from headstart.data.text.fortunes import LANGUAGES, TOPICS, is_test, open_fortunes
from headstart.data.text.sources import open_text
from headstart.errors import HeadstartError


@pytest.fixture(scope="module")
def everything():
    return {split: open_fortunes("fortunes", split=split) for split in ("train", "test")}


def words(text: str) -> str:
    """A text's words without its `-- Author` line: what the splits and de-duplication compare."""
    body = [line for line in text.lower().split("\n") if not line.lstrip().startswith("--")]
    return " ".join(re.findall(r"\w+", "\n".join(body))) or " ".join(text.split())  # ASCII art: as it is


def test_fortunes__all_languages_unlabeled_and_large(everything):
    train, test = everything["train"], everything["test"]
    assert len(train) > 70_000 and len(test) > 17_000
    assert not train.has_labels and train.classes == [] and (train.labels == -1).all()
    assert 0.19 < len(test) / (len(train) + len(test)) < 0.21  # the hash split's 20%
    assert len({words(t) for t in train.texts}) == len(train)  # de-duplicated


def test_fortunes__no_test_text_in_any_train_split_even_with_another_credit(everything, topic_test,
                                                                            lang_test):
    train = {words(t) for t in everything["train"].texts}
    assert not train & {words(t) for t in everything["test"].texts}
    assert not train & {words(t) for t in topic_test.texts}
    assert not train & {words(t) for t in lang_test.texts}
    assert all(is_test(t) for t in topic_test.texts[:500])
    assert not any(is_test(t) for t in everything["train"].texts[:500])


def test_fortunes_topic__twelve_topics_with_enough_texts_per_split(topic_train, topic_test):
    assert topic_train.classes == topic_test.classes == sorted(TOPICS) and len(TOPICS) == 12
    train_counts = np.bincount(topic_train.labels, minlength=12)
    test_counts = np.bincount(topic_test.labels, minlength=12)
    assert len(topic_train) > 3700 and len(topic_test) > 850
    assert train_counts.min() >= 55 and test_counts.min() >= 10  # medicine is the smallest topic
    assert topic_train.origins[0].startswith("/usr/share/games/fortunes/art:")
    medicine = topic_train.classes.index("medicine")
    assert all("/medicine:" in topic_train.origins[i] for i in np.flatnonzero(topic_train.labels == medicine))


def test_fortunes_lang__eight_languages(lang_test):
    counts = np.bincount(lang_test.labels, minlength=8)
    assert lang_test.classes == list(LANGUAGES) and lang_test.has_labels
    assert counts.min() > 400 and counts.sum() > 17_000
    russian = lang_test.texts[int(np.flatnonzero(lang_test.labels == lang_test.classes.index("ru"))[0])]
    assert sum("\u0400" <= ch <= "\u04ff" for ch in russian) > len(russian) / 3


def test_fortunes_topic__per_class_subsets_are_nested_and_seeded(topic_train):
    ten = label_subset(topic_train.labels, per_class=10, seed=0)
    fifty = label_subset(topic_train.labels, per_class=50, seed=0)
    assert len(ten) == 120 and np.bincount(topic_train.labels[ten]).tolist() == [10] * 12
    assert set(ten) <= set(fifty) and len(fifty) == 600
    assert not np.array_equal(ten, label_subset(topic_train.labels, per_class=10, seed=1))
    small = topic_train.subset(ten)
    assert len(small) == 120 and small.texts[0] == topic_train.texts[ten[0]]


def test_open_text__named_sets_with_split_suffix(topic_test):
    same = open_text("fortunes-topic:test")
    assert same.texts == topic_test.texts and same.source == "fortunes-topic:test"


def test_open_data__a_text_corpus_says_so():
    with pytest.raises(HeadstartError, match=r"^fortunes-topic:test is a text corpus, not an image set"):
        open_data("fortunes-topic:test")


def test_open_fortunes__missing_packages_name_the_apt_command(tmp_path):
    (tmp_path / "de").mkdir()
    with pytest.raises(HeadstartError) as info:
        open_fortunes("fortunes-lang", split="train", root=tmp_path)
    missing = "fortunes, fortunes-es, fortunes-it, fortunes-pl, fortunes-ru, fortunes-cs, fortunes-br"
    assert f"(missing: {missing})" in str(info.value)
    assert str(info.value).endswith("run `apt-get install fortunes fortunes-de fortunes-es fortunes-it "
                                    "fortunes-pl fortunes-ru fortunes-cs fortunes-br` as root")
