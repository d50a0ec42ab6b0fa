"""Rate-distortion loss with saliency-weighted distortion.

``loss = bpp + lambda_q * D`` with
``D = a * 255^2 * wMSE + b * wLPIPS + c * (1 - MS-SSIM)`` and the per-pixel weight
``w = 1 + k * s`` normalised to mean 1 per image (so the weighting moves error around the
image without changing the overall distortion scale). The perceptual metric is any module
returning a distance map ``(N,1,H,W)`` (e.g. ``twoafc.network.LPIPS(spatial=True)``) or a
per-image distance ``(N,)``/``(N,1,1,1)``; ``None`` or ``b = 0`` switches it off. ``a=1,
b=c=k=0`` is CompressAI's plain MSE recipe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def saliency_weights(s: Tensor | None, shape: torch.Size, k: float) -> Tensor | None:
    """``w = 1 + k*s`` normalised to mean 1 per image, or None for uniform weighting."""
    if s is None or k == 0:
        return None
    w = 1.0 + k * s.clamp(0, 1)
    w = w / w.mean(dim=(1, 2, 3), keepdim=True)
    return w.expand(shape[0], 1, *shape[-2:])


def msssim_per_image(x_hat: Tensor, x: Tensor, win_size: int = 11) -> Tensor:
    """MS-SSIM (Wang et al. 2003) per image, with as many of the 5 scales as the size allows.

    ``pytorch_msssim.ms_ssim`` insists on all 5 scales (>160 px); training crops are smaller,
    so the scales are chosen here and the standard weights renormalised.
    """
    from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

    side = min(x.shape[-2:])
    win_size = min(win_size, side if side % 2 == 1 else side - 1)
    if win_size < 3:  # too small for SSIM at all: fall back to a bounded MSE similarity
        return 1.0 - F.mse_loss(x_hat, x, reduction="none").mean(dim=(1, 2, 3))
    levels = 1
    while levels < 5 and side // 2**levels >= win_size:
        levels += 1
    weights = torch.tensor(MSSSIM_WEIGHTS[:levels], device=x.device, dtype=torch.float32)
    weights = weights / weights.sum()
    win = _fspecial_gauss_1d(win_size, 1.5).to(x).repeat(x.shape[1], 1, 1, 1)
    a, b = x_hat.clamp(0, 1).float(), x.float()
    factors = []
    for level in range(levels):
        ssim_pc, cs = _ssim(a, b, data_range=1.0, win=win, size_average=False, K=(0.01, 0.03))
        if level < levels - 1:
            factors.append(torch.relu(cs))
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    factors.append(torch.relu(ssim_pc))
    stacked = torch.stack(factors, dim=0)  # (levels, N, C)
    # clamp keeps the gradient of x**w finite where a factor is exactly 0
    ms = torch.prod(stacked.clamp_min(1e-8) ** weights[:, None, None], dim=0)
    return ms.mean(dim=1)


def bpp_per_image(likelihoods: dict[str, Tensor], num_pixels: int) -> Tensor:
    """Estimated bits per pixel of each image from the entropy models' likelihoods."""
    total = sum(torch.log(lk).flatten(1).sum(dim=1) for lk in likelihoods.values())
    return total / (-math.log(2) * num_pixels)


class RateDistortionLoss(nn.Module):
    """Saliency-weighted rate-distortion loss; one lambda per quality level.

    Args:
        lmbdas: lambda of each quality (index 0 = quality 1, lowest rate).
        mse_weight, lpips_weight, msssim_weight: ``a``, ``b``, ``c`` above.
        saliency_k: ``k`` in ``w = 1 + k*s``.
        metric: perceptual distance module ``metric(x_hat, x)`` on [0, 1] images; its
            parameters are frozen. Required when ``lpips_weight > 0``.
    """

    def __init__(
        self,
        lmbdas: Sequence[float] = (0.0018, 0.0035, 0.0067, 0.013, 0.025),
        mse_weight: float = 1.0,
        lpips_weight: float = 0.0,
        msssim_weight: float = 0.0,
        saliency_k: float = 0.0,
        metric: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if lpips_weight > 0 and metric is None:
            raise ValueError("lpips_weight > 0 needs a metric module")
        self.register_buffer("lmbdas", torch.tensor(list(lmbdas), dtype=torch.float32))
        self.a, self.b, self.c, self.k = mse_weight, lpips_weight, msssim_weight, saliency_k
        self.metric = metric
        if metric is not None:
            metric.eval()
            for p in metric.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> RateDistortionLoss:
        super().train(mode)
        if self.metric is not None:
            self.metric.eval()  # the metric is a fixed yardstick, never in train mode
        return self

    def _perceptual(self, x_hat: Tensor, x: Tensor, w: Tensor | None) -> Tensor:
        d = self.metric(x_hat.clamp(0, 1), x)
        if d.ndim == 4 and d.shape[-2:] != (1, 1):
            if d.shape[-2:] != x.shape[-2:]:
                d = F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)
            return (d if w is None else d * w).mean(dim=(1, 2, 3))
        return d.reshape(d.shape[0], -1).mean(dim=1)

    def forward(
        self, out: dict, x: Tensor, quality: Tensor, s: Tensor | None = None
    ) -> dict[str, Tensor]:
        """``quality`` is a LongTensor ``(N,)`` of 1-based levels; returns scalars."""
        n, _, h, w_ = x.shape
        x_hat = out["x_hat"]
        bpp = bpp_per_image(out["likelihoods"], h * w_)
        w = saliency_weights(s, x.shape, self.k)
        se = (x_hat - x) ** 2
        mse = se.mean(dim=(1, 2, 3))
        wmse = mse if w is None else (se * w).mean(dim=(1, 2, 3))
        dist = self.a * (255.0**2) * wmse
        result = {"bpp": bpp.mean(), "mse": mse.mean(), "wmse": wmse.mean()}
        if self.c > 0:
            msssim = msssim_per_image(x_hat, x)
            dist = dist + self.c * (1.0 - msssim)
            result["msssim"] = msssim.mean()
        if self.b > 0:
            lp = self._perceptual(x_hat, x, w)
            dist = dist + self.b * lp
            result["lpips"] = lp.mean()
        lmbda = self.lmbdas[quality.long() - 1]
        result["distortion"] = dist.mean()
        result["loss"] = (bpp + lmbda * dist).mean()
        return result


class LoadedMetric(nn.Module):
    """A named metric from ``twoafc.load_metric`` (e.g. ``"lpips-comp"``) for YAML configs,
    switched to its spatial (per-pixel map) output when it has one."""

    def __init__(self, name: str = "lpips-comp", spatial: bool = True) -> None:
        super().__init__()
        import twoafc

        self.metric = twoafc.load_metric(name)
        if spatial and hasattr(self.metric, "spatial"):
            self.metric.spatial = True

    def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
        return self.metric(x_hat, x)
