"""Student-t intervals for one arm and for paired differences, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from headstart.errors import HeadstartError
from headstart.eval.stats import mean_ci, paired_difference


def test_mean_ci__three_values_uses_t_with_two_degrees_of_freedom():
    e = mean_ci([0.79, 0.80, 0.81])                          # s = 0.01
    assert e.n == 3 and e.mean == pytest.approx(0.80)
    assert e.half_width == pytest.approx(4.303 * 0.01 / math.sqrt(3), rel=1e-4)   # t_{0.975,2} = 4.303
    assert (e.low, e.high) == pytest.approx((0.80 - 0.02484, 0.80 + 0.02484), abs=1e-5)


def test_mean_ci__two_values_uses_t_with_one_degree_of_freedom():
    e = mean_ci([0.70, 0.74])                                # s = 0.04 / sqrt(2) = 0.028284
    assert e.half_width == pytest.approx(12.706 * 0.028284 / math.sqrt(2), rel=1e-4)   # t_{0.975,1} = 12.706


def test_mean_ci__five_values_and_a_90_percent_interval():
    values = [0.81, 0.84, 0.80, 0.86, 0.83]                  # mean 0.828, s = 0.023875
    e = mean_ci(values, confidence=0.90)
    assert e.mean == pytest.approx(0.828)
    assert e.half_width == pytest.approx(2.132 * 0.023875 / math.sqrt(5), rel=1e-3)    # t_{0.95,4} = 2.132


def test_mean_ci__one_value_has_no_interval():
    e = mean_ci([0.8])
    assert (e.mean, e.low, e.high, e.n) == (0.8, None, None, 1)
    assert e.half_width is None and not e.excludes_zero      # never a zero-width interval


def test_mean_ci__error_no_values_or_bad_confidence():
    with pytest.raises(HeadstartError, match="no values"):
        mean_ci([])
    with pytest.raises(HeadstartError, match="not in"):
        mean_ci([0.1, 0.2], confidence=1.5)


def test_paired_difference__narrower_than_the_arms_when_pairs_share_their_luck():
    # the labeled subset of seed i moves both arms together: +-2 points per seed, gain 3 +- 0.5
    scratch = [0.78, 0.80, 0.82]
    pretrained = [0.81, 0.835, 0.85]                         # d = 0.030, 0.035, 0.030
    d = paired_difference(pretrained, scratch)
    assert d.mean == pytest.approx(0.031667, abs=1e-6)
    assert d.half_width == pytest.approx(4.303 * 0.0028868 / math.sqrt(3), rel=1e-3)   # 0.00717
    assert d.excludes_zero and d.low > 0.024
    # the two independent intervals overlap, the paired one does not: pairing is what shows the gain
    assert mean_ci(pretrained).low < mean_ci(scratch).high


def test_paired_difference__interval_across_zero_is_not_significant():
    d = paired_difference([0.80, 0.83, 0.79], [0.81, 0.80, 0.80])   # d = -0.01, +0.03, -0.01
    assert d.low < 0 < d.high and not d.excludes_zero


def test_paired_difference__one_pair_has_no_interval():
    d = paired_difference([0.85], [0.80])
    assert d.mean == pytest.approx(0.05) and d.low is None and d.high is None


def test_paired_difference__error_unequal_lengths():
    with pytest.raises(HeadstartError, match="paired difference of 2 and 3"):
        paired_difference([0.1, 0.2], [0.1, 0.2, 0.3])
