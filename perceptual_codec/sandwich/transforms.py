"""Differentiable pieces of a block-transform codec: JFIF colour, chroma resampling, 8x8 DCT.

They mirror what libjpeg does (full-range BT.601 YCbCr, box-filter 4:2:0 downsampling,
"fancy" triangle upsampling, orthonormal 8x8 DCT-II, which equals JPEG's scaled DCT) so that
a proxy built from them lands within a few grey levels of the real decoder.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Full-range BT.601 (JFIF) matrices; offsets of 128/255 on the chroma rows.
_RGB2YCC = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [-0.168735892, -0.331264108, 0.5],
        [0.5, -0.418687589, -0.081312411],
    ]
)
_YCC2RGB = torch.tensor(
    [
        [1.0, 0.0, 1.402],
        [1.0, -0.344136286, -0.714136286],
        [1.0, 1.772, 0.0],
    ]
)
_CHROMA_OFFSET = 128.0 / 255.0


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) RGB in [0,1] -> YCbCr in [0,1] (chroma centred on 128/255)."""
    y = torch.einsum("ij,njhw->nihw", _RGB2YCC.to(x), x)
    offset = torch.tensor([0.0, _CHROMA_OFFSET, _CHROMA_OFFSET], dtype=x.dtype, device=x.device)
    return y + offset.view(1, 3, 1, 1)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (no clamping, so gradients survive)."""
    offset = torch.tensor([0.0, _CHROMA_OFFSET, _CHROMA_OFFSET], dtype=x.dtype, device=x.device)
    return torch.einsum("ij,njhw->nihw", _YCC2RGB.to(x), x - offset.view(1, 3, 1, 1))


def downsample2(x: torch.Tensor) -> torch.Tensor:
    """libjpeg's h2v2 downsampling: the mean of each 2x2 box."""
    return F.avg_pool2d(x, 2)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """libjpeg's "fancy" h2v2 upsampling: a 3/4-1/4 triangle filter with edge replication,
    which is exactly bilinear interpolation with half-pixel centres."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate the last row/column up to a multiple, as libjpeg fills partial MCUs."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Orthonormal DCT-II basis (rows are frequencies)."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    m = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m.to(dtype)


def blockify(x: torch.Tensor, b: int = 8) -> torch.Tensor:
    """(N,C,H,W) -> (N,C,H/b,W/b,b,b); H and W must be multiples of b."""
    n, c, h, w = x.shape
    return x.view(n, c, h // b, b, w // b, b).permute(0, 1, 2, 4, 3, 5)


def unblockify(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`blockify`."""
    n, c, hb, wb, b, _ = x.shape
    return x.permute(0, 1, 2, 4, 3, 5).reshape(n, c, hb * b, wb * b)


def block_dct(x: torch.Tensor, b: int = 8) -> torch.Tensor:
    """Blockwise 2-D DCT: (N,C,H,W) -> coefficients (N,C,H/b,W/b,b,b)."""
    d = dct_matrix(b).to(x)
    return d @ blockify(x, b) @ d.T


def block_idct(coeffs: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`block_dct`, back to (N,C,H,W)."""
    d = dct_matrix(coeffs.shape[-1]).to(coeffs)
    return unblockify(d.T @ coeffs @ d)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity gradient (straight-through estimator)."""
    return x + (torch.round(x) - x).detach()
