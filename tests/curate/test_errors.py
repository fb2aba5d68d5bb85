"""Errors a user can cause when selecting: each names the thing and the fix."""

from __future__ import annotations

import pytest
import torch

from headstart.curate.combine import combine
from headstart.curate.kmeans import kmeans
from headstart.curate.registry import STRATEGIES
from headstart.errors import HeadstartError

EMB = torch.randn(30, 8)


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy__error_n_above_available(name):
    probs = torch.full((30, 3), 1 / 3)
    with pytest.raises(HeadstartError, match="only 20 of 30 are available.*at most 20"):
        STRATEGIES.get(name)(EMB, 21, exclude=torch.arange(10), probs=probs)


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy__n_zero_is_empty(name):
    sel = STRATEGIES.get(name)(EMB, 0, probs=torch.full((30, 3), 1 / 3))
    assert sel.indices.shape == (0,) and sel.scores.shape == (0,)


def test_strategy__error_negative_n():
    with pytest.raises(HeadstartError, match="non-negative"):
        STRATEGIES.get("diverse")(EMB, -1)


def test_strategy__error_unknown_name_lists_valid_ones():
    with pytest.raises(HeadstartError, match="did you mean 'diverse'.*balanced, combine"):
        STRATEGIES.get("divers")


def test_strategy__error_exclude_out_of_range():
    with pytest.raises(HeadstartError, match=r"\[0, 30\)"):
        STRATEGIES.get("diverse")(EMB, 3, exclude=torch.tensor([5, 30]))


def test_strategy__error_nan_rows_are_named():
    bad = EMB.clone()
    bad[7, 2] = float("nan")
    with pytest.raises(HeadstartError, match=r"NaN or inf \(first rows: \[7\]\)"):
        STRATEGIES.get("typical")(bad, 3)


def test_strategy__error_not_a_matrix():
    with pytest.raises(HeadstartError, match="2-D"):
        STRATEGIES.get("random")(torch.randn(30), 3)


def test_combine__error_unknown_term_and_bad_weights():
    with pytest.raises(HeadstartError, match="weights may name: diverse, random, typical, uncertain"):
        combine(EMB, 3, weights={"balanced": 1.0})
    with pytest.raises(HeadstartError, match="non-negative"):
        combine(EMB, 3, weights={"diverse": -1.0, "random": 2.0})


def test_combine__error_uncertain_needs_probs():
    with pytest.raises(HeadstartError, match="probs is missing"):
        combine(EMB, 3)


def test_kmeans__error_more_clusters_than_rows():
    with pytest.raises(HeadstartError, match="cannot make 31 clusters from 30 rows"):
        kmeans(EMB, 31)
