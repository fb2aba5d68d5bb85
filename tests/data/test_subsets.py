"""Label subsets and the validation hold-out: exact stratified counts, seeded, nested, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headstart.data.idx import open_idx
from headstart.data.subsets import Budget, label_subset, parse_budget, split_train_val
from headstart.errors import HeadstartError


@pytest.fixture(scope="module")
def train_labels() -> np.ndarray:
    return open_idx("fashion-mnist", "train").labels  # 6000 per class


@pytest.fixture
def uneven(fashion) -> np.ndarray:
    """Real labels of 50 T-shirts, 30 trousers and 20 pullovers, interleaved as in the file."""
    keep = np.concatenate([np.flatnonzero(fashion.labels == c)[:n] for c, n in [(0, 50), (1, 30), (2, 20)]])
    return fashion.labels[np.sort(keep)]


def test_parse_budget__counts_and_percentages():
    assert parse_budget("600") == Budget(count=600)
    assert parse_budget(" 1% ") == Budget(percent=1.0) and parse_budget("1%").of(60000) == 600
    assert parse_budget("0.5%").of(60000) == 300 and parse_budget("100%").of(123) == 123
    assert parse_budget(".1%").of(10) == 1  # at least one image


@pytest.mark.parametrize("text", ["0", "0%", "101%", "abc", "-5", "1.5", "", "%", "nan%", "1e3", "5 %"])
def test_parse_budget__error_names_the_text_and_the_fix(text):
    with pytest.raises(HeadstartError, match="such as 600 or a percentage"):
        parse_budget(text)


@given(st.integers(min_value=1, max_value=10**9))
def test_parse_budget__any_positive_count(n):
    assert parse_budget(str(n)).of(5) == n


@given(st.floats(min_value=0.001, max_value=100.0), st.integers(min_value=1, max_value=10**6))
def test_parse_budget__any_percentage_in_range(p, pool):
    k = parse_budget(f"{p:.3f}%").of(pool)
    assert 1 <= k <= pool and abs(k - max(1, pool * float(f"{p:.3f}") / 100)) <= 0.5 + 1e-9


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_parse_budget__any_text_parses_or_raises_headstart_error(text):
    try:
        budget = parse_budget(text)
    except HeadstartError:
        return
    assert budget.of(1000) >= 1


def test_label_subset__one_percent_is_exactly_60_per_class(train_labels):
    idx = label_subset(train_labels, labels_budget="1%", seed=0)
    assert len(idx) == 600 and np.bincount(train_labels[idx]).tolist() == [60] * 10
    assert np.array_equal(idx, label_subset(train_labels, labels_budget="600", seed=0))
    assert np.all(np.diff(idx) > 0)


def test_label_subset__seeded_deterministic_and_nested(train_labels):
    a = label_subset(train_labels, labels_budget="1%", seed=3)
    assert np.array_equal(a, label_subset(train_labels, labels_budget="1%", seed=3))
    assert len(np.intersect1d(a, label_subset(train_labels, labels_budget="1%", seed=4))) < 60
    bigger = label_subset(train_labels, labels_budget="2%", seed=3)
    assert np.isin(a, bigger).all() and len(bigger) == 1200
    per = label_subset(train_labels, per_class=10, seed=3)
    assert np.bincount(train_labels[per]).tolist() == [10] * 10 and np.isin(per, a).all()


def test_label_subset__proportional_largest_remainder(uneven):
    assert np.bincount(uneven[label_subset(uneven, labels_budget="10")]).tolist() == [5, 3, 2]
    # 13 -> 1 each, then 10 over spares 49:29:19 = 5.05, 2.99, 1.96 -> 5, 3, 2
    assert np.bincount(uneven[label_subset(uneven, labels_budget="13")]).tolist() == [6, 4, 3]
    assert np.bincount(uneven[label_subset(uneven, labels_budget="3")]).tolist() == [1, 1, 1]
    assert np.bincount(uneven[label_subset(uneven, labels_budget="2")], minlength=3).tolist() == [1, 1, 0]
    assert len(label_subset(uneven, labels_budget="100%")) == 100 and len(label_subset(uneven)) == 100


def test_label_subset__unlabeled_images_never_chosen(uneven):
    labels = uneven.copy()
    labels[::2] = -1
    idx = label_subset(labels, labels_budget="100%")
    assert len(idx) == 50 and (labels[idx] >= 0).all()


def test_label_subset__errors_name_the_problem_and_fix(uneven):
    with pytest.raises(HeadstartError, match="more than the 100 labeled images — ask for at most 100"):
        label_subset(uneven, labels_budget="101")
    with pytest.raises(HeadstartError, match="class 'Pullover' has only 20 labeled images, fewer than 25"):
        label_subset(uneven, per_class=25, classes=["T-shirt/top", "Trouser", "Pullover"])
    with pytest.raises(HeadstartError, match="no labels — put the images in one sub-folder per class"):
        label_subset(np.full(10, -1), per_class=1)
    with pytest.raises(HeadstartError, match="only one"):
        label_subset(uneven, labels_budget="10", per_class=2)


def test_split_train_val__stratified_disjoint_and_seeded(train_labels):
    pool = label_subset(train_labels, labels_budget="1%", seed=0)
    train, val = split_train_val(pool, train_labels, seed=0)
    assert np.bincount(train_labels[val]).tolist() == [6] * 10 and len(train) == 540
    assert len(np.intersect1d(train, val)) == 0 and np.array_equal(np.union1d(train, val), pool)
    again = split_train_val(pool, train_labels, seed=0)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(split_train_val(pool, train_labels, seed=1)[1], val)


@pytest.mark.parametrize(("per_class", "val_per_class"), [(10, 2), (5, 1), (2, 1), (100, 10)])
def test_split_train_val__tiny_pools_keep_every_class_in_both(train_labels, per_class, val_per_class):
    pool = label_subset(train_labels, per_class=per_class)
    train, val = split_train_val(pool, train_labels)
    assert np.bincount(train_labels[val]).tolist() == [val_per_class] * 10
    assert np.bincount(train_labels[train]).tolist() == [per_class - val_per_class] * 10


def test_split_train_val__errors(train_labels):
    with pytest.raises(HeadstartError, match="cannot hold out a validation split"):
        split_train_val(label_subset(train_labels, per_class=1), train_labels)
    with pytest.raises(HeadstartError, match="val_fraction"):
        split_train_val(np.arange(100), train_labels, val_fraction=1.0)
    labels = train_labels.copy()
    labels[5] = -1
    with pytest.raises(HeadstartError, match="only come from labeled images"):
        split_train_val(np.arange(10), labels)


def test_parse_budget__per_class_text_points_to_the_per_class_option():
    with pytest.raises(HeadstartError) as err:
        parse_budget("10/class")
    assert "--per-class 10" in str(err.value.fix)
