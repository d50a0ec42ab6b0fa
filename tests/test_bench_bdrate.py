"""Bjontegaard deltas on curves whose answer is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.bdrate import BDError, bd_quality, bd_rate, bd_table

RATES = np.array([0.12, 0.25, 0.5, 0.9, 1.5, 2.2])
PSNR = 27.0 + 4.2 * np.log2(RATES / 0.12) - 0.15 * np.log2(RATES / 0.12) ** 2  # concave


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_scaled_rates_give_minus_ten_percent(method: str) -> None:
    assert bd_rate(RATES, PSNR, 0.9 * RATES, PSNR, method=method) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(RATES, PSNR, 1.25 * RATES, PSNR, method=method) == pytest.approx(25.0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_identical_curves_give_zero(method: str) -> None:
    assert bd_rate(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0.0, abs=1e-12)
    assert bd_quality(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_shifted_quality_gives_the_shift(method: str) -> None:
    assert bd_quality(RATES, PSNR, RATES, PSNR + 0.7, method=method) == pytest.approx(0.7)
    # lower-is-better metrics (LPIPS) keep the sign convention test - anchor
    lp = 0.5 / (1 + RATES)
    assert bd_quality(RATES, lp, RATES, lp - 0.02, method=method) == pytest.approx(-0.02)
    assert bd_rate(RATES, lp, RATES * 0.8, lp, method=method) == pytest.approx(-20.0)


def test_point_order_and_duplicates_do_not_matter() -> None:
    perm = np.array([3, 0, 5, 1, 4, 2])
    for method in ("pchip", "cubic"):
        assert bd_rate(RATES, PSNR, 0.9 * RATES[perm], PSNR[perm], method) == pytest.approx(-10.0)
    # a repeated measurement (same quality twice) is averaged, not a broken interpolant
    dup_r, dup_q = np.append(RATES, RATES[2]), np.append(PSNR, PSNR[2])
    assert bd_rate(RATES, PSNR, 0.9 * dup_r, dup_q) == pytest.approx(-10.0)
    # non-finite points (a failed measurement) are dropped
    assert bd_rate(RATES, PSNR, np.append(0.9 * RATES, np.nan), np.append(PSNR, 30.0)) == \
        pytest.approx(-10.0)


def test_methods_differ_on_a_curve_a_cubic_cannot_fit() -> None:
    # a kinked curve: PCHIP follows it, the least-squares cubic smooths it
    q = np.array([28.0, 31.0, 33.0, 33.5, 37.0, 40.0])
    test_q = q + np.array([0.0, 0.5, 1.0, 1.0, 0.5, 0.0])
    p, c = bd_quality(RATES, q, RATES, test_q, "pchip"), bd_quality(RATES, q, RATES, test_q, "cubic")
    assert p > 0 and c > 0 and not math.isclose(p, c, rel_tol=1e-3)


def test_bad_inputs_are_clear() -> None:
    with pytest.raises(BDError, match="at least 4"):
        bd_rate(RATES[:3], PSNR[:3], RATES[:3], PSNR[:3], method="cubic")
    with pytest.raises(BDError, match="do not overlap"):
        bd_rate(RATES[:2], PSNR[:2], RATES[4:], PSNR[4:] + 20, method="pchip")
    with pytest.raises(BDError, match="positive"):
        bd_rate(-RATES, PSNR, RATES, PSNR)
    with pytest.raises(BDError, match="unknown BD method"):
        bd_rate(RATES, PSNR, RATES, PSNR, method="linear")


def test_table_against_anchor() -> None:
    curves = {"a": (RATES, PSNR), "b": (0.9 * RATES, PSNR), "c": (RATES[:1], PSNR[:1])}
    t = bd_table(curves, anchor="a", method="pchip")
    assert t["a"] == pytest.approx(0.0, abs=1e-12) and t["b"] == pytest.approx(-10.0)
    assert math.isnan(t["c"])
    with pytest.raises(BDError, match="anchor"):
        bd_table(curves, anchor="zzz")
