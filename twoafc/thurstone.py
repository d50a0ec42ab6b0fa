"""Turning absolute quality scores (MOS/DMOS) into 2AFC preference probabilities.

Thurstone's law of comparative judgment, Case V: every stimulus ``i`` has a true quality
``q_i``; on each look an observer perceives ``q_i + e`` with ``e ~ N(0, sigma^2)``, independent
across stimuli and with the same ``sigma`` for all (that is what "Case V" assumes). The chance
that an observer prefers B over A is then

    P(B > A) = Phi((q_B - q_A) / (sigma * sqrt(2)))

with ``Phi`` the standard normal CDF. We take ``q`` to be the MOS (or minus the DMOS, where
lower is better). ``sigma`` is either given, or estimated from per-observer ratings as the
pooled within-stimulus standard deviation (how far one person's rating strays from the mean).

When per-observer ratings exist the judge can also be counted directly: the share of
observers who rated B above A (ties count one half), over observers who rated both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.special import ndtr


def thurstone_prob(q_a: float | np.ndarray, q_b: float | np.ndarray, sigma: float) -> np.ndarray:
    """P(an observer prefers B over A) under Thurstone Case V with per-look spread ``sigma``."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"the observer spread sigma must be a positive finite number, got {sigma}")
    z = (np.asarray(q_b, dtype=np.float64) - np.asarray(q_a, dtype=np.float64)) / (
        sigma * math.sqrt(2.0)
    )
    return ndtr(z)


def pooled_sigma(ratings: Iterable[Sequence[float]]) -> float:
    """Pooled within-stimulus standard deviation of individual ratings.

    ``ratings`` holds one sequence of observer ratings per stimulus (NaNs are skipped). The
    pooled variance weights each stimulus by its degrees of freedom (n - 1).
    """
    num = 0.0
    dof = 0
    for row in ratings:
        r = np.asarray(row, dtype=np.float64)
        r = r[np.isfinite(r)]
        if r.size < 2:
            continue
        num += float(((r - r.mean()) ** 2).sum())
        dof += r.size - 1
    if dof == 0 or num <= 0:
        raise ValueError("cannot estimate the observer spread: need >= 2 differing ratings per stimulus")
    return math.sqrt(num / dof)


def observer_share(ratings_a: Sequence[float], ratings_b: Sequence[float]) -> tuple[float, int]:
    """Share of observers who rated B above A (ties 0.5), and how many rated both.

    The two sequences are aligned by observer; NaN marks a missing rating.
    """
    a = np.asarray(ratings_a, dtype=np.float64)
    b = np.asarray(ratings_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("ratings of the two stimuli must be aligned by observer (same length)")
    both = np.isfinite(a) & np.isfinite(b)
    n = int(both.sum())
    if n == 0:
        return float("nan"), 0
    a, b = a[both], b[both]
    share = (float((b > a).sum()) + 0.5 * float((b == a).sum())) / n
    return share, n
