"""Classic full-reference baselines as distance modules (lower = closer), like LPIPS.

All take (N, 3, H, W) images in [0, 1] and return (N,) distances, and are differentiable:

- ``psnr``: the distance is the mean squared error over RGB; :func:`mse_to_psnr` turns it
  into dB (same ordering, so 2AFC scores are those of PSNR).
- ``ssim``: ``1 - SSIM`` (Gaussian window 11, sigma 1.5, per RGB channel then averaged).
- ``ms-ssim``: ``1 - MS-SSIM`` (pytorch_msssim, 5 scales). Images too small for 5 scales
  of an 11-tap window (side <= 160) use the largest odd window that fits, and below a
  side of 33 pixels raise an error.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def mse_to_psnr(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error (inf for identical images)."""
    return math.inf if mse <= 0 else 10.0 * math.log10(peak * peak / mse)


class PSNRDistance(nn.Module):
    name = "psnr"

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).pow(2).flatten(1).mean(1)


class SSIMDistance(nn.Module):
    name = "ssim"

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from pytorch_msssim import ssim

        return 1.0 - ssim(x, y, data_range=1.0, size_average=False)


class MSSSIMDistance(nn.Module):
    name = "ms-ssim"

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from pytorch_msssim import ms_ssim

        side = min(x.shape[-2:])
        win = 11
        while win > 3 and side <= (win - 1) * 16:
            win -= 2
        if side <= (win - 1) * 16:
            raise ValueError(f"MS-SSIM needs images at least 33 pixels on a side, got {side}")
        return 1.0 - ms_ssim(x, y, data_range=1.0, size_average=False, win_size=win)


CLASSIC = {"psnr": PSNRDistance, "ssim": SSIMDistance, "ms-ssim": MSSSIMDistance}
