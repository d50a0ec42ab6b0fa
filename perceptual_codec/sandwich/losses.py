"""Distortions a sandwich trains on: MSE, and LPIPS-Comp with saliency weighting.

Each distortion is an ``nn.Module`` called as ``d(x, x_hat, saliency=None) -> scalar``, so a
LightningCLI config can swap them (``class_path``) and the RD-slope calibration of
:class:`~perceptual_codec.sandwich.lightning.LitSandwich` measures plain-codec slopes in the
same units as the loss it trains.
"""

from __future__ import annotations

import logging
import warnings

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


def saliency_weights(saliency: torch.Tensor | None, floor: float, size: tuple[int, int]):
    """(N,1,H,W) map -> per-pixel weights of mean 1 per image, never below ``floor``'s share
    (so non-salient regions still count); None stays None."""
    if saliency is None:
        return None
    s = saliency.float()
    if s.shape[-2:] != size:
        s = F.interpolate(s, size=size, mode="bilinear", align_corners=False)
    w = floor + (1.0 - floor) * s / s.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return w / w.mean(dim=(1, 2, 3), keepdim=True)


class MSEDistortion(nn.Module):
    """Mean squared error in [0,1] units (optionally saliency-weighted)."""

    def __init__(self, use_saliency: bool = False, floor: float = 0.3) -> None:
        super().__init__()
        self.use_saliency, self.floor = use_saliency, floor

    def forward(
        self, x: torch.Tensor, x_hat: torch.Tensor, saliency: torch.Tensor | None = None
    ) -> torch.Tensor:
        err = (x - x_hat).pow(2)
        w = saliency_weights(saliency, self.floor, x.shape[-2:]) if self.use_saliency else None
        return (err * w).mean() if w is not None else err.mean()


def load_lpips_metric(name: str) -> nn.Module:
    """The project's metric by name, as a spatial map where the network allows it.

    Uses ``twoafc.load_metric`` (LPIPS-Comp and friends) and falls back to the released
    LPIPS-Alex network when that loader or the named weights are not available, with a
    warning naming what was used.
    """
    try:
        from twoafc import load_metric  # type: ignore[attr-defined]

        metric = load_metric(name)
    except Exception as exc:  # not written yet, or weights missing
        from twoafc.network import LPIPS

        warnings.warn(
            f"metric {name!r} unavailable ({exc}); using released LPIPS-Alex instead",
            stacklevel=2,
        )
        metric = LPIPS(net="alex", spatial=True)
    if hasattr(metric, "spatial"):
        metric.spatial = True
    for p in metric.parameters():
        p.requires_grad_(False)
    return metric.eval()


class PerceptualDistortion(nn.Module):
    """``mean_w(LPIPS map) + mse_weight * mean_w(squared error)``, ``w`` from saliency.

    Args:
        metric: a ``twoafc.load_metric`` name ("lpips-comp", "lpips-alex", ...) or path.
        mse_weight: weight of the pixel term (keeps colours and PSNR honest).
        use_saliency: weight both terms by the batch's saliency map when it has one.
        floor: minimum share of weight for non-salient pixels.
    """

    def __init__(
        self,
        metric: str = "lpips-comp",
        mse_weight: float = 20.0,
        use_saliency: bool = True,
        floor: float = 0.3,
    ) -> None:
        super().__init__()
        self.metric_name = metric
        self.metric = load_lpips_metric(metric)
        self.mse_weight, self.use_saliency, self.floor = mse_weight, use_saliency, floor

    def train(self, mode: bool = True) -> PerceptualDistortion:
        super().train(mode)
        self.metric.eval()  # dropout of the metric stays off
        return self

    def forward(
        self, x: torch.Tensor, x_hat: torch.Tensor, saliency: torch.Tensor | None = None
    ) -> torch.Tensor:
        w = saliency_weights(saliency, self.floor, x.shape[-2:]) if self.use_saliency else None
        d = self.metric(x_hat, x, normalize=True)
        if d.ndim == 4 and d.shape[-2:] != x.shape[-2:]:
            d = F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)
        if d.ndim == 4 and w is not None:
            perceptual = (d * w).mean()
        else:
            perceptual = d.mean()
        err = (x - x_hat).pow(2)
        pixel = (err * w).mean() if w is not None else err.mean()
        return perceptual + self.mse_weight * pixel
