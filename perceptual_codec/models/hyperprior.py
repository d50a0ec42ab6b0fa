"""Saliency-conditioned, variable-rate mean-scale hyperprior.

Design (why it looks like this):

* Entropy model: the mean-scale Gaussian hyperprior of Minnen, Ballé & Toderici (NeurIPS
  2018), itself the scale hyperprior of Ballé et al. (ICLR 2018) with predicted means. It is
  fully parallel (no autoregressive context), which keeps CPU decoding fast.
* Saliency conditioning goes into the analysis transform ``g_a`` only. The map is concatenated
  to the RGB input and, at every resolution of ``g_a``, modulates the features with a
  spatial affine transform (``f * (1 + gamma(s)) + beta(s)``), in the spirit of the
  spatially-adaptive feature transform of Song et al. (ICCV 2021) and of the importance/ROI
  maps of Li et al. (CVPR 2018) and Cai et al. (IEEE TIP 2020). Unlike those works the map is
  *not* sent: the encoder learns to spend bits where the map is high and the decoder reads
  that allocation from the latents alone, so a file never needs the saliency model to decode.
  A map of zeros means "no preference" (uniform weighting), which is also what the loss uses
  when saliency is off, so one model serves ``--saliency none`` as well.
* Rate control: per-quality channel gains on the latent ("gain units", Cui et al., CVPR 2021)
  let one network cover the whole quality ladder, so a CPU training budget is spent on one
  set of transforms rather than one per quality point.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models import CompressionModel
from compressai.models.base import get_scale_table
from compressai.models.utils import conv, deconv
from compressai.ops import quantize_ste
from torch import Tensor, nn

from .registry import register_model

QualityArg = int | Tensor

# CompressAI's default 64-level scale table rounds each scale up by up to 13%, which cost
# 2.5-4.6% of real file size over the estimated rate on Kodak-like images; 256 levels
# (up to 3%) brings the gap to about 1% (measured on skimage's astronaut, qualities 1-5).
SCALE_TABLE_LEVELS = 256


def interpolate_log_gains(log_gain: Tensor, src_lmbdas: Tensor, dst_lmbdas: Tensor) -> Tensor:
    """Per-quality log-gain rows for a new lambda ladder.

    Rows are interpolated linearly in ``log(lambda)`` between the two nearest trained
    qualities, and extrapolated from the end pair outside the trained range: Cui et al.'s
    exponential interpolation of gain vectors (CVPR 2021), used here to start a run on a
    new ladder from a model trained on another one. ``src_lmbdas`` must increase.
    """
    src = torch.as_tensor(src_lmbdas, dtype=torch.float64).log()
    dst = torch.as_tensor(dst_lmbdas, dtype=torch.float64).log()
    if src.ndim != 1 or src.numel() != log_gain.shape[0]:
        raise ValueError(f"{log_gain.shape[0]} gain rows but {src.numel()} source lambdas")
    if src.numel() == 1:
        return log_gain[:1].expand(dst.numel(), -1).clone()
    if not bool((src[1:] > src[:-1]).all()):
        raise ValueError("source lambdas must increase")
    i = (torch.searchsorted(src, dst, right=True) - 1).clamp(0, src.numel() - 2)
    t = ((dst - src[i]) / (src[i + 1] - src[i])).to(log_gain.dtype)[:, None]
    return (1 - t) * log_gain[i] + t * log_gain[i + 1]


class SaliencyModulation(nn.Module):
    """Spatial affine modulation of features by a (downsampled) saliency map.

    Initialised to the identity so training starts from a plain hyperprior.
    """

    def __init__(self, channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(hidden, 2 * channels, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        s = F.adaptive_avg_pool2d(s, x.shape[-2:])
        gamma, beta = self.net(s).chunk(2, dim=1)
        return x * (1 + gamma) + beta


class SaliencyAnalysis(nn.Module):
    """``g_a(x, s)``: four stride-2 5x5 convolutions with GDN, conditioned on ``s``.

    With ``conditioned=False`` it is exactly Ballé et al.'s analysis transform and ignores
    ``s`` (used for the ablation without saliency conditioning).
    """

    def __init__(self, N: int, M: int, conditioned: bool = True) -> None:
        super().__init__()
        self.conditioned = conditioned
        in_ch = 4 if conditioned else 3
        self.convs = nn.ModuleList([conv(in_ch, N), conv(N, N), conv(N, N), conv(N, M)])
        self.gdns = nn.ModuleList([GDN(N) for _ in range(3)])
        self.mods = nn.ModuleList(
            [SaliencyModulation(N) for _ in range(3)] if conditioned else []
        )

    def forward(self, x: Tensor, s: Tensor | None = None) -> Tensor:
        if not self.conditioned:
            h = x
            for conv_, gdn in zip(self.convs[:-1], self.gdns, strict=True):
                h = gdn(conv_(h))
            return self.convs[-1](h)
        if s is None:
            s = x.new_zeros(x.shape[0], 1, *x.shape[-2:])
        h = torch.cat([x, s], dim=1)
        for conv_, gdn, mod in zip(self.convs[:-1], self.gdns, self.mods, strict=True):
            h = mod(gdn(conv_(h)), s)
        return self.convs[-1](h)


@register_model("sal-mshp")
class SaliencyMeanScaleHyperprior(CompressionModel):
    """Mean-scale hyperprior with a saliency-conditioned encoder and per-quality gains.

    Args:
        N: channels of the transforms and of the hyper-latent ``z``.
        M: channels of the latent ``y``.
        num_qualities: number of quality levels (gain vectors); quality ``q`` is 1-based,
            ``1`` = lowest rate, as in CompressAI's zoo.
        conditioned: feed the saliency map to ``g_a`` (``False`` for the ablation).
    """

    def __init__(
        self, N: int = 64, M: int = 128, num_qualities: int = 5, conditioned: bool = True
    ) -> None:
        super().__init__()
        self.N, self.M, self.num_qualities, self.conditioned = N, M, num_qualities, conditioned
        self.g_a = SaliencyAnalysis(N, M, conditioned=conditioned)
        self.g_s = nn.Sequential(
            deconv(M, N),
            GDN(N, inverse=True),
            deconv(N, N),
            GDN(N, inverse=True),
            deconv(N, N),
            GDN(N, inverse=True),
            deconv(N, 3),
        )
        self.h_a = nn.Sequential(
            conv(M, N, stride=1, kernel_size=3),
            nn.LeakyReLU(inplace=True),
            conv(N, N),
            nn.LeakyReLU(inplace=True),
            conv(N, N),
        )
        self.h_s = nn.Sequential(
            deconv(N, M),
            nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2),
            nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, stride=1, kernel_size=3),
        )
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)
        # Log-domain gains, spread at init so qualities start apart (about x0.5 .. x2).
        spread = torch.linspace(-math.log(2.0), math.log(2.0), num_qualities)
        if num_qualities == 1:
            spread = torch.zeros(1)
        self.log_gain = nn.Parameter(spread[:, None].repeat(1, M).clone())
        self.log_inv_gain = nn.Parameter(-spread[:, None].repeat(1, M).clone())

    def config(self) -> dict:
        """Architecture name and constructor arguments (stored in checkpoints/weights)."""
        return {
            "architecture": self.architecture,
            "kwargs": {"N": self.N, "M": self.M, "num_qualities": self.num_qualities,
                       "conditioned": self.conditioned},
        }

    def update(self, scale_table: Tensor | None = None, force: bool = False,
               update_quantiles: bool = False) -> bool:
        """Rebuild the entropy tables, with a finer scale table than CompressAI's default."""
        if scale_table is None:
            scale_table = get_scale_table(levels=SCALE_TABLE_LEVELS)
        return super().update(scale_table=scale_table, force=force,
                              update_quantiles=update_quantiles)

    @property
    def downsampling_factor(self) -> int:
        return 2 ** (4 + 2)

    def _gains(self, quality: QualityArg, batch: int, device: torch.device) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(quality, device=device).long() - 1
        if idx.ndim == 0:
            idx = idx.expand(batch)
        if idx.min() < 0 or idx.max() >= self.num_qualities:
            raise ValueError(f"quality must be in 1..{self.num_qualities}, got {quality}")
        g = self.log_gain[idx].exp()[:, :, None, None]
        ig = self.log_inv_gain[idx].exp()[:, :, None, None]
        return g, ig

    def _latent(self, x: Tensor, s: Tensor | None, quality: QualityArg) -> tuple[Tensor, Tensor]:
        y = self.g_a(x, s)
        g, ig = self._gains(quality, x.shape[0], x.device)
        return y * g, ig

    def forward(self, x: Tensor, s: Tensor | None = None, quality: QualityArg | None = None) -> dict:
        """Training/eval pass: noisy likelihoods for the rate, rounded latents for ``g_s``."""
        quality = self.num_qualities if quality is None else quality
        y, ig = self._latent(x, s, quality)
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales_hat, means_hat = self.h_s(z_hat).chunk(2, 1)
        _, y_likelihoods = self.gaussian_conditional(y, scales_hat, means=means_hat)
        y_hat = quantize_ste(y - means_hat) + means_hat
        x_hat = self.g_s(y_hat * ig)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    @torch.no_grad()
    def compress(self, x: Tensor, s: Tensor | None = None, quality: int | None = None) -> dict:
        """Entropy-code ``x`` (padded to a multiple of :attr:`downsampling_factor`)."""
        quality = self.num_qualities if quality is None else quality
        y, _ = self._latent(x, s, quality)
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        scales_hat, means_hat = self.h_s(z_hat).chunk(2, 1)
        indexes = self.gaussian_conditional.build_indexes(scales_hat)
        y_strings = self.gaussian_conditional.compress(y, indexes, means=means_hat)
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    @torch.no_grad()
    def decompress(self, strings: list, shape: tuple[int, int], quality: int | None = None) -> dict:
        """Inverse of :meth:`compress`; needs no saliency map."""
        quality = self.num_qualities if quality is None else quality
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        scales_hat, means_hat = self.h_s(z_hat).chunk(2, 1)
        indexes = self.gaussian_conditional.build_indexes(scales_hat)
        y_hat = self.gaussian_conditional.decompress(strings[0], indexes, means=means_hat)
        _, ig = self._gains(quality, y_hat.shape[0], y_hat.device)
        x_hat = self.g_s(y_hat * ig).clamp_(0, 1)
        return {"x_hat": x_hat}
