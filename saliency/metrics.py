"""Saliency evaluation metrics with the standard definitions.

Definitions follow Bylinskii, Judd, Oliva, Torralba and Durand, "What do different evaluation
metrics tell us about saliency models?", IEEE TPAMI 41(3), 2019, and the MIT Saliency
Benchmark code that accompanies it:

- **AUC-Judd**: ROC area with fixated pixels as positives and all other pixels as negatives;
  thresholds at the saliency values of the fixated pixels.
- **sAUC** (shuffled AUC): positives are the fixated pixels, negatives the saliency at
  fixation locations of *other* images, which cancels a pure centre bias; averaged over
  ``n_splits`` random draws of as many negatives as there are positives.
- **NSS**: mean of the standardised saliency map (zero mean, unit std) at fixated pixels.
- **CC**: Pearson correlation between the saliency map and the fixation density map.
- **KLD**: KL divergence of the saliency map (as a distribution) from the fixation density
  map, ``sum Q * log(eps + Q / (P + eps))`` (lower is better).
- **SIM**: histogram intersection of the two maps, each normalised to sum to one.

Two deliberate details: ties are handled exactly (the benchmark instead adds 1e-7 random
jitter to the map), so a constant map scores AUC 0.5 every time; and sAUC uses every distinct
threshold (the exact ROC area) rather than the benchmark's fixed 0.1 grid. The saliency
map is resized (bilinear) to the fixation map's size first, as the benchmark does.
Inputs are 2-D arrays; fixation maps are binary (nonzero = fixated pixel).
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)  # MATLAB's eps, as in the benchmark's KLD and SIM

METRICS = ("auc_judd", "sauc", "nss", "cc", "kld", "sim")
HIGHER_IS_BETTER = {"auc_judd": True, "sauc": True, "nss": True, "cc": True, "kld": False,
                    "sim": True}


def _as_map(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D map, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def match_size(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The saliency map at ``shape`` (bilinear), as float64."""
    s = _as_map(saliency, "saliency map")
    if s.shape == tuple(shape):
        return s
    import cv2

    return cv2.resize(s, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR).astype(np.float64)


def _fixated(fixations: np.ndarray) -> np.ndarray:
    f = np.asarray(fixations)
    if f.ndim != 2:
        raise ValueError(f"fixation map must be 2-D, got shape {f.shape}")
    mask = f > 0
    if not mask.any():
        raise ValueError("fixation map has no fixated pixel")
    return mask


def _standardize(a: np.ndarray) -> np.ndarray:
    std = a.std(ddof=1) if a.size > 1 else 0.0
    if std == 0:
        return np.zeros_like(a)
    return (a - a.mean()) / std


def _range01(a: np.ndarray) -> np.ndarray:
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _trapz(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def auc_judd(saliency: np.ndarray, fixations: np.ndarray) -> float:
    """AUC-Judd: fixated pixels vs all other pixels of the same image."""
    mask = _fixated(fixations)
    s = _range01(match_size(saliency, mask.shape)).ravel()
    pos = s[mask.ravel()]
    n_pix, n_fix = s.size, pos.size
    if n_fix == n_pix:
        raise ValueError("every pixel is fixated; AUC is undefined")
    thresholds = np.unique(pos)[::-1]  # descending
    s_sorted = np.sort(s)
    pos_sorted = np.sort(pos)
    above_all = n_pix - np.searchsorted(s_sorted, thresholds, side="left")
    above_fix = n_fix - np.searchsorted(pos_sorted, thresholds, side="left")
    tp = np.concatenate([[0.0], above_fix / n_fix, [1.0]])
    fp = np.concatenate([[0.0], (above_all - above_fix) / (n_pix - n_fix), [1.0]])
    return _trapz(fp, tp)


def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Exact ROC area: P(pos > neg) + 0.5 * P(pos == neg) (the Mann-Whitney statistic)."""
    pos = np.asarray(positives, dtype=np.float64).ravel()
    neg = np.sort(np.asarray(negatives, dtype=np.float64).ravel())
    if pos.size == 0 or neg.size == 0:
        raise ValueError("ROC area needs at least one positive and one negative")
    below = np.searchsorted(neg, pos, side="left")
    not_above = np.searchsorted(neg, pos, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (pos.size * neg.size))


def auc_shuffled(
    saliency: np.ndarray,
    fixations: np.ndarray,
    other_fixations: np.ndarray,
    n_splits: int = 100,
    seed: int = 0,
) -> float:
    """Shuffled AUC; ``other_fixations`` is a binary map (same size as ``fixations``) of
    fixation locations from other images. Deterministic for a given ``seed``."""
    mask = _fixated(fixations)
    other = np.asarray(other_fixations) > 0
    if other.shape != mask.shape:
        raise ValueError(f"other-fixation map {other.shape} must match fixations {mask.shape}")
    if not other.any():
        raise ValueError("shuffled AUC needs fixations from other images; none given")
    s = _range01(match_size(saliency, mask.shape)).ravel()
    pos = s[mask.ravel()]
    candidates = s[other.ravel()]
    n_neg = min(pos.size, candidates.size)
    rng = np.random.default_rng(seed)
    scores = [roc_auc(pos, candidates[rng.choice(candidates.size, n_neg, replace=False)])
              for _ in range(n_splits)]
    return float(np.mean(scores))


def nss(saliency: np.ndarray, fixations: np.ndarray) -> float:
    """Normalized scanpath saliency (0 for a constant map)."""
    mask = _fixated(fixations)
    s = _standardize(match_size(saliency, mask.shape))
    return float(s[mask].mean())


def cc(saliency: np.ndarray, density: np.ndarray) -> float:
    """Pearson linear correlation coefficient (0 when either map is constant)."""
    d = _as_map(density, "fixation density map")
    a = _standardize(match_size(saliency, d.shape))
    b = _standardize(d)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def _as_distribution(a: np.ndarray, name: str) -> np.ndarray:
    if a.min() < 0:
        raise ValueError(f"{name} must be non-negative for KLD / SIM")
    total = a.sum()
    if total <= 0:
        raise ValueError(f"{name} is all zero; it cannot be read as a distribution")
    return a / total


def kld(saliency: np.ndarray, density: np.ndarray) -> float:
    """KL divergence of the prediction P from the fixation density Q (lower is better)."""
    d = _as_map(density, "fixation density map")
    q = _as_distribution(d, "fixation density map")
    s = match_size(saliency, d.shape)
    if s.min() < 0:
        raise ValueError("saliency map must be non-negative for KLD")
    p = s / s.sum() if s.sum() > 0 else np.zeros_like(s)
    return float((q * np.log(EPS + q / (p + EPS))).sum())


def sim(saliency: np.ndarray, density: np.ndarray) -> float:
    """Similarity (histogram intersection) of the two maps after range- and sum-normalising."""
    d = _as_map(density, "fixation density map")
    q = _range01(d)
    q = q / q.sum() if q.sum() > 0 else q
    p = _range01(match_size(saliency, d.shape))
    p = p / p.sum() if p.sum() > 0 else p
    return float(np.minimum(p, q).sum())


def all_metrics(
    saliency: np.ndarray,
    density: np.ndarray,
    fixations: np.ndarray,
    other_fixations: np.ndarray | None = None,
    n_splits: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """All six metrics for one image (``sauc`` is NaN without ``other_fixations``)."""
    s = match_size(saliency, np.asarray(fixations).shape)
    return {
        "auc_judd": auc_judd(s, fixations),
        "sauc": auc_shuffled(s, fixations, other_fixations, n_splits, seed)
        if other_fixations is not None else float("nan"),
        "nss": nss(s, fixations),
        "cc": cc(s, density),
        "kld": kld(s, density),
        "sim": sim(s, density),
    }
