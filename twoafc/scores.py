"""Agreement of a distance with human judgments: 2AFC score, human ceiling, JND mAP.

Conventions (BAPPS): ``d0``/``d1`` are distances of ``p0``/``p1`` to the reference (lower =
closer); ``judge`` is the fraction of people who preferred ``p1``.

- **2AFC score** of a metric: mean over triplets of
  ``[d0 < d1] * (1 - judge) + [d1 < d0] * judge + 0.5 * [d0 == d1]``, the expected share of
  people the metric agrees with.
- **Human ceiling** (``oracle``): mean of ``max(judge, 1 - judge)``, the 2AFC score of a
  metric that always sides with the majority, so no metric can beat it on these triplets.
- **Human agreement** (``human``): mean of ``judge^2 + (1 - judge)^2``, the chance that two
  random observers agree, as the LPIPS paper reports for "human" (meaningful when judge is a
  true share of observers; with Thurstone-derived judges it is model-based).
- **JND mAP**: pairs ranked by increasing distance; precision/recall of "same" (the share of
  people who saw no difference is the soft label) and the area under the PR curve with
  monotone (VOC-style) precision.
"""

from __future__ import annotations

import numpy as np


def _arrays(*xs) -> list[np.ndarray]:
    out = [np.asarray(x, dtype=np.float64).reshape(-1) for x in xs]
    n = out[0].size
    if any(a.size != n for a in out):
        raise ValueError("all inputs must have the same length")
    if n == 0:
        raise ValueError("no triplets to score")
    return out


def twoafc_score(d0, d1, judge) -> float:
    """Mean agreement of the ordering ``d0`` vs ``d1`` with the share ``judge`` preferring p1."""
    d0, d1, judge = _arrays(d0, d1, judge)
    agree = (d0 < d1) * (1.0 - judge) + (d1 < d0) * judge + 0.5 * (d0 == d1)
    return float(agree.mean())


def human_ceiling(judge) -> float:
    """Mean ``max(judge, 1 - judge)``: the best 2AFC score any metric can reach on these data."""
    (judge,) = _arrays(judge)
    return float(np.maximum(judge, 1.0 - judge).mean())


def human_agreement(judge) -> float:
    """Mean ``judge^2 + (1 - judge)^2``: how often two random observers agree."""
    (judge,) = _arrays(judge)
    return float((judge**2 + (1.0 - judge) ** 2).mean())


def jnd_map(distance, same) -> float:
    """Average precision of "same" when pairs are ranked by increasing distance."""
    distance, same = _arrays(distance, same)
    order = np.argsort(distance, kind="stable")
    hits = same[order]
    tp = np.cumsum(hits)
    fp = np.cumsum(1.0 - hits)
    total = tp[-1]
    if total <= 0:
        raise ValueError("JND mAP needs at least one pair judged 'same'")
    recall = tp / total
    precision = tp / (tp + fp)
    return _area_under_pr(recall, precision)


def _area_under_pr(recall: np.ndarray, precision: np.ndarray) -> float:
    # Make precision monotone (non-increasing with recall), then sum rectangles at each
    # change of recall: the exact area under the interpolated PR curve.
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(((r[steps + 1] - r[steps]) * p[steps + 1]).sum())
