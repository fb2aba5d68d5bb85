"""`uncertain` on hand-made softmax outputs: exact picks, and the errors a user can cause."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.curate.uncertain import measure, uncertain
from headstart.errors import HeadstartError

PROBS = torch.tensor(
    [
        [0.90, 0.05, 0.05],  # margin 0.85
        [0.40, 0.35, 0.25],  # margin 0.05  <- least sure by margin
        [0.34, 0.33, 0.33],  # margin 0.01  <- least sure by both
        [0.60, 0.30, 0.10],  # margin 0.30
        [0.50, 0.45, 0.05],  # margin 0.05  (ties row 1: the lower row goes first)
        [1.00, 0.00, 0.00],  # margin 1.00
    ]
)
EMB = torch.randn(6, 4)


def test_margin__picks_the_lowest_margins_exactly():
    sel = uncertain(EMB, 4, probs=PROBS)
    assert sel.indices.tolist() == [2, 1, 4, 3]
    assert sel.scores.tolist() == pytest.approx([0.01, 0.05, 0.05, 0.30], abs=1e-6)


def test_entropy__picks_the_highest_entropy_exactly():
    entropy = [-sum(p * math.log(p) for p in row if p > 0) for row in PROBS.tolist()]
    expected = sorted(range(6), key=lambda i: -entropy[i])[:3]
    sel = uncertain(EMB, 3, probs=PROBS, uncertainty="entropy")
    assert sel.indices.tolist() == expected == [2, 1, 3]
    assert sel.scores.tolist() == pytest.approx([entropy[i] for i in expected], abs=1e-5)
    assert measure(PROBS[5:], "entropy").item() == 0.0


def test_uncertain__exclude_skips_labeled_rows():
    assert uncertain(EMB, 3, probs=PROBS, exclude=torch.tensor([2, 4])).indices.tolist() == [1, 3, 0]


def test_uncertain__error_missing_probs():
    with pytest.raises(HeadstartError, match="probs is missing.*softmax"):
        uncertain(EMB, 2)


def test_uncertain__error_logits_instead_of_probs():
    with pytest.raises(HeadstartError, match="apply softmax"):
        uncertain(EMB, 2, probs=PROBS.log())


def test_uncertain__error_probs_rows_do_not_match():
    with pytest.raises(HeadstartError, match="N = 6 rows"):
        uncertain(EMB, 2, probs=PROBS[:5])


def test_uncertain__error_unknown_measure():
    with pytest.raises(HeadstartError, match="margin, entropy"):
        uncertain(EMB, 2, probs=PROBS, uncertainty="variance")
