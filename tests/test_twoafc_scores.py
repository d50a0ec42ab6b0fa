"""Thurstone conversion and the 2AFC / human ceiling / JND mAP scores on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twoafc.scores import human_agreement, human_ceiling, jnd_map, twoafc_score
from twoafc.thurstone import observer_share, pooled_sigma, thurstone_prob


def test_thurstone_case_v():
    assert float(thurstone_prob(3.0, 3.0, 0.7)) == pytest.approx(0.5)
    # q_b - q_a = sigma * sqrt(2) -> Phi(1)
    assert float(thurstone_prob(1.0, 1.0 + 0.5 * math.sqrt(2), 0.5)) == pytest.approx(0.841344746)
    p = thurstone_prob(np.array([1.0, 2.0]), np.array([2.0, 1.0]), 1.0)
    assert p[0] + p[1] == pytest.approx(1.0) and p[0] > 0.5
    with pytest.raises(ValueError, match="sigma"):
        thurstone_prob(1.0, 2.0, 0.0)


def test_pooled_sigma_and_observer_share():
    # variances (dof-weighted): [1,3] -> 2 (1 dof); [2,2,2] -> 0 (2 dof); total 2/3
    assert pooled_sigma([[1, 3], [2, 2, 2], [5]]) == pytest.approx(math.sqrt(2 / 3))
    share, n = observer_share([1, 3, 2, np.nan], [2, 3, 1, 5])
    assert n == 3 and share == pytest.approx((1 + 0.5 + 0) / 3)


def test_twoafc_score_by_hand():
    d0 = [0.1, 0.5, 0.3, 0.2]
    d1 = [0.2, 0.4, 0.3, 0.9]
    judge = [0.1, 0.8, 0.6, 0.5]
    # agree: 0.9 (p0 closer, 90% chose p0), 0.8, tie 0.5, 0.5
    assert twoafc_score(d0, d1, judge) == pytest.approx((0.9 + 0.8 + 0.5 + 0.5) / 4)
    assert twoafc_score(d1, d0, judge) == pytest.approx((0.1 + 0.2 + 0.5 + 0.5) / 4)
    with pytest.raises(ValueError):
        twoafc_score([1.0], [1.0, 2.0], [0.5])


def test_human_ceiling_and_agreement():
    judge = [0.1, 0.8, 0.5]
    assert human_ceiling(judge) == pytest.approx((0.9 + 0.8 + 0.5) / 3)
    assert human_agreement(judge) == pytest.approx((0.82 + 0.68 + 0.5) / 3)
    # a perfect oracle reaches the ceiling
    d0 = np.where(np.array(judge) < 0.5, 0.0, 1.0)
    assert twoafc_score(d0, 1 - d0, judge) <= human_ceiling(judge) + 1e-12


def test_jnd_map_by_hand():
    # ranked: same, diff, same, diff -> AP = 0.5 * 1 + 0.5 * 2/3
    assert jnd_map([0.1, 0.2, 0.3, 0.4], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    assert jnd_map([0.4, 0.3, 0.2, 0.1], [1, 1, 0, 0]) == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    assert jnd_map([0.1, 0.2, 0.3], [1, 1, 0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same"):
        jnd_map([0.1, 0.2], [0, 0])
