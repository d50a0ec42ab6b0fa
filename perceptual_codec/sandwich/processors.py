"""Pre- and post-processors with a bypass, after Guleryuz et al.'s sandwich architecture.

Each processor is ``per_pixel(x) + alpha * unet(x)``: a per-pixel (1x1) path initialised to
the identity (or to BT.601 luma for a grey carrier, to channel replication for its
decoder) plus a small U-Net whose contribution is scaled by a trainable ``alpha`` that
starts at 0. At initialisation the sandwich is therefore exactly the plain codec, and
training moves away from it only as far as the loss pays for (O. G. Guleryuz, P. A. Chou,
H. Hoppe, D. Tang, R. Du, P. Davidson, S. Fanello, "Sandwiched Image Compression: Wrapping
Neural Networks Around a Standard Codec", ICIP 2021; and "Sandwiched Image Compression:
Increasing the Resolution and Dynamic Range of Standard Codecs", PCS 2022).

Both U-Nets see the ladder position ``t`` in [0,1] as an extra constant input plane, so one
network serves every quality of a ladder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

_LUMA = (0.299, 0.587, 0.114)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.LeakyReLU(0.1, inplace=True),
    )


class UNet(nn.Module):
    """A small U-Net (average-pool down, bilinear up, skip concatenations)."""

    def __init__(self, in_ch: int, out_ch: int, channels: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        chans = list(channels)
        self.levels = len(chans)
        self.enc = nn.ModuleList()
        prev = in_ch
        for c in chans:
            self.enc.append(_block(prev, c))
            prev = c
        self.dec = nn.ModuleList(
            _block(chans[i + 1] + chans[i], chans[i]) for i in reversed(range(len(chans) - 1))
        )
        self.head = nn.Conv2d(chans[0], out_ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** (self.levels - 1)
        x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="replicate")
        skips = []
        for i, block in enumerate(self.enc):
            if i:
                x = F.avg_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.dec, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)[..., :h, :w]


def _per_pixel(cin: int, cout: int) -> nn.Conv2d:
    """1x1 colour map initialised to identity, luma (3->1) or replication (1->3)."""
    conv = nn.Conv2d(cin, cout, 1)
    with torch.no_grad():
        conv.bias.zero_()
        w = torch.zeros(cout, cin)
        if cin == cout:
            w = torch.eye(cin)
        elif cin == 3 and cout == 1:
            w[0] = torch.tensor(_LUMA)
        elif cin == 1:
            w[:, 0] = 1.0
        else:
            raise ValueError(f"no bypass initialisation for {cin} -> {cout} channels")
        conv.weight.copy_(w.view(cout, cin, 1, 1))
    return conv


def _quality_plane(x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    return t.expand(x.shape[0], 1, *x.shape[-2:])


class PreProcessor(nn.Module):
    """Image -> neural code image (what the standard codec encodes).

    Args:
        in_channels: 3 for RGB input.
        out_channels: 3 (colour carrier) or 1 (grey carrier).
        channels: U-Net widths per level.
        downsample: code at 1/downsample resolution (area filter after the networks).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        channels: Sequence[int] = (16, 32, 64),
        downsample: int = 1,
    ) -> None:
        super().__init__()
        self.downsample = int(downsample)
        self.per_pixel = _per_pixel(in_channels, out_channels)
        self.unet = UNet(in_channels + 1, out_channels, channels)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        y = self.per_pixel(x) + self.alpha * self.unet(torch.cat([x, _quality_plane(x, t)], 1))
        if self.downsample > 1:
            y = F.avg_pool2d(y, self.downsample, ceil_mode=True)
        return y


class PostProcessor(nn.Module):
    """Decoded code image -> reconstruction (upsampling first when the code is smaller).

    Args:
        in_channels: channels of the carrier (3 or 1).
        out_channels: 3 for RGB output.
        channels: U-Net widths per level.
        upsample: the pre-processor's ``downsample`` factor.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        channels: Sequence[int] = (16, 32, 64),
        upsample: int = 1,
    ) -> None:
        super().__init__()
        self.upsample = int(upsample)
        self.per_pixel = _per_pixel(in_channels, out_channels)
        self.unet = UNet(in_channels + 1, out_channels, channels)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(
        self, y: torch.Tensor, t: torch.Tensor | float, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        if self.upsample > 1 or (size is not None and tuple(y.shape[-2:]) != tuple(size)):
            target = size or (y.shape[-2] * self.upsample, y.shape[-1] * self.upsample)
            y = F.interpolate(y, size=target, mode="bilinear", align_corners=False)
        return self.per_pixel(y) + self.alpha * self.unet(torch.cat([y, _quality_plane(y, t)], 1))
