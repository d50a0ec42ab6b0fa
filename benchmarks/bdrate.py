"""Bjontegaard-delta metrics: the average rate difference at equal quality (BD-rate) and the
average quality difference at equal rate (BD-quality, e.g. BD-PSNR), between a test curve
and an anchor curve.

Two ways to draw the curve through the measured points, both integrated over the interval
where the two curves overlap, with rates on a log scale:

* ``"cubic"``: Bjontegaard's original VCEG-M33 recipe, a least-squares cubic polynomial
  through all points (exact through four). Smooth, but can wiggle with many or noisy points.
* ``"pchip"``: a piecewise cubic Hermite interpolant through the sorted points (the
  monotone-preserving variant used by the JVET common-test-condition sheets, VCEG-AL22).
  It passes through every point and never overshoots between them.

BD-rate is in percent (negative = the test codec needs fewer bits); BD-quality is in the
metric's own units, test minus anchor (positive is better for PSNR/MS-SSIM, negative is
better for LPIPS).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

METHODS = ("pchip", "cubic")


class BDError(ValueError):
    """The curves cannot be compared (too few points, no overlap, bad values)."""


def _clean(x: Sequence[float], y: Sequence[float], min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Finite points sorted by x, points sharing an x averaged (an interpolant needs a
    strictly increasing abscissa)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise BDError(f"{x.size} rates but {y.size} quality values")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    ux, inv = np.unique(x, return_inverse=True)
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    if ux.size < min_points:
        raise BDError(f"need at least {min_points} distinct points, got {ux.size}")
    return ux, uy


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Integral over [lo, hi] of the curve through (x, y)."""
    if method == "cubic":
        coeffs = np.polyfit(x, y, 3)
        prim = np.polyint(coeffs)
        return float(np.polyval(prim, hi) - np.polyval(prim, lo))
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator

        return float(PchipInterpolator(x, y, extrapolate=False).integrate(lo, hi))
    raise BDError(f"unknown BD method {method!r}; choose from {', '.join(METHODS)}")


def _avg_difference(xa: Sequence[float], ya: Sequence[float], xt: Sequence[float],
                    yt: Sequence[float], method: str) -> float:
    """Mean of (test - anchor) of y over the overlapping x interval."""
    min_points = 4 if method == "cubic" else 2
    xa_, ya_ = _clean(xa, ya, min_points)
    xt_, yt_ = _clean(xt, yt, min_points)
    lo, hi = max(xa_[0], xt_[0]), min(xa_[-1], xt_[-1])
    if not hi > lo:
        raise BDError(f"the curves do not overlap (anchor {xa_[0]:.4g}..{xa_[-1]:.4g}, "
                      f"test {xt_[0]:.4g}..{xt_[-1]:.4g})")
    diff = _integral(xt_, yt_, lo, hi, method) - _integral(xa_, ya_, lo, hi, method)
    return diff / (hi - lo)


def _log_rates(rate: Sequence[float]) -> np.ndarray:
    r = np.asarray(rate, dtype=np.float64)
    if np.any(r[np.isfinite(r)] <= 0):
        raise BDError("rates must be positive")
    return np.log(r)


def bd_rate(rate_anchor: Sequence[float], quality_anchor: Sequence[float],
            rate_test: Sequence[float], quality_test: Sequence[float],
            method: str = "pchip") -> float:
    """Average rate difference (percent) of the test curve over the anchor at equal quality."""
    avg = _avg_difference(quality_anchor, _log_rates(rate_anchor), quality_test,
                          _log_rates(rate_test), method)
    return (math.exp(avg) - 1.0) * 100.0


def bd_quality(rate_anchor: Sequence[float], quality_anchor: Sequence[float],
               rate_test: Sequence[float], quality_test: Sequence[float],
               method: str = "pchip") -> float:
    """Average quality difference (test - anchor, metric units) at equal rate."""
    return _avg_difference(_log_rates(rate_anchor), quality_anchor, _log_rates(rate_test),
                           quality_test, method)


def bd_table(curves: dict[str, tuple[Sequence[float], Sequence[float]]], anchor: str,
             method: str = "pchip", kind: str = "rate",
             codecs: Iterable[str] | None = None) -> dict[str, float]:
    """BD-rate (``kind="rate"``) or BD-quality of every codec against ``anchor``.

    ``curves`` maps a codec to (rates, quality values). A pair that cannot be compared
    gives NaN (the report says so) instead of failing the whole table.
    """
    if anchor not in curves:
        raise BDError(f"anchor codec {anchor!r} has no results")
    fn = bd_rate if kind == "rate" else bd_quality
    ra, qa = curves[anchor]
    out: dict[str, float] = {}
    for name in codecs if codecs is not None else curves:
        rt, qt = curves[name]
        try:
            out[name] = fn(ra, qa, rt, qt, method=method)
        except BDError:
            out[name] = math.nan
    return out
