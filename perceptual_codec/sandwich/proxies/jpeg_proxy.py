"""Differentiable JPEG (libjpeg via Pillow) with the real encoder on the same tables.

The proxy follows libjpeg's pipeline: JFIF YCbCr, optional 4:2:0 box downsampling, 8x8
DCT, division by the quality-derived tables of the IJG formula (``jpeg_quality_scaling``,
baseline-clamped to 1..255), rounding (straight-through, or additive uniform noise), the
inverse DCT, triangle chroma upsampling and the clamp to 8 bits. An optional trainable
per-frequency step multiplies the tables; whatever the tables are, the real encoder gets
exactly them through Pillow's ``qtables=`` argument.

Rate: ``bits = w_ac * sum_AC log2(1+|q|) + w_dc * sum_blocks log2(1+|dDC|) + w_0``, where
``q`` are the quantised coefficients and ``dDC`` the DC difference to the block on the
left (JPEG codes DC differentially). The weights are fitted to real Pillow/libjpeg file
sizes by :func:`perceptual_codec.sandwich.calibrate.fit_rate_weights`; the defaults below
come from that fit on BSDS500 train crops (see MODEL_CARD.md).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from perceptual_codec.sandwich import transforms as T
from perceptual_codec.sandwich.proxies.base import CodecProxy

# Annex K tables of the JPEG standard (natural, row-major order), as in libjpeg's jcparam.c.
_STD_LUMA = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
_STD_CHROMA = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32  # fmt: skip

#: (w_ac, w_dc, w_0) fitted to real libjpeg sizes (4:2:0, optimised Huffman tables)
DEFAULT_RATE_WEIGHTS_420 = (2.6178, 6.9632, 3548.35)
#: the same for 4:4:4 and for grey (one-component) files
DEFAULT_RATE_WEIGHTS_444 = (2.6476, 5.7443, 4814.29)


def ijg_quality_scale(quality: int) -> int:
    """libjpeg's ``jpeg_quality_scaling``: quality 1..100 -> percentage scale factor."""
    q = min(max(int(quality), 1), 100)
    return 5000 // q if q < 50 else 200 - 2 * q


def ijg_quant_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """The luma and chroma tables libjpeg builds for ``quality`` (8x8 int, baseline)."""
    scale = ijg_quality_scale(quality)
    out = []
    for base in (_STD_LUMA, _STD_CHROMA):
        t = (np.asarray(base, dtype=np.int64) * scale + 50) // 100
        out.append(np.clip(t, 1, 255).reshape(8, 8))
    return out[0], out[1]


class JpegProxy(CodecProxy):
    """JPEG proxy + real libjpeg encoder (Pillow), both on the same quantisation tables.

    Args:
        qualities: libjpeg quality settings of the ladder.
        subsampling: "4:2:0" or "4:4:4" chroma (ignored for one-channel carriers).
        rounding: "ste" (straight-through rounding) or "noise" (uniform noise while
            training, rounding in eval).
        learn_step: learn a per-frequency multiplicative step on top of the tables.
        rate_weights: (w_ac, w_dc, w_0) of the rate model; None uses the fitted defaults.
        real_forward: see :class:`CodecProxy`.
        optimize: optimised Huffman tables in the real file (lossless, ~5-10% smaller).
    """

    format_name = "jpeg"
    extension = ".jpg"

    def __init__(
        self,
        qualities: Sequence[int] = (5, 10, 20, 40, 75),
        subsampling: str = "4:2:0",
        rounding: str = "ste",
        learn_step: bool = False,
        rate_weights: Sequence[float] | None = None,
        real_forward: bool = True,
        optimize: bool = True,
    ) -> None:
        super().__init__(qualities, real_forward)
        self.optimize = optimize
        if subsampling not in ("4:2:0", "4:4:4"):
            raise ValueError(f"subsampling must be '4:2:0' or '4:4:4', not {subsampling!r}")
        if rounding not in ("ste", "noise"):
            raise ValueError(f"rounding must be 'ste' or 'noise', not {rounding!r}")
        self.subsampling = subsampling
        self.rounding = rounding
        self.learn_step = learn_step
        if rate_weights is None:
            rate_weights = (
                DEFAULT_RATE_WEIGHTS_420 if subsampling == "4:2:0" else DEFAULT_RATE_WEIGHTS_444
            )
        self.register_buffer("rate_weights", torch.tensor(list(rate_weights), dtype=torch.float32))
        # log-step offsets for (luma, chroma); zero = the plain IJG tables
        self.log_step = nn.Parameter(torch.zeros(2, 8, 8), requires_grad=learn_step)

    def config(self) -> dict:
        """Constructor arguments, JSON-friendly (stored with exported weights)."""
        return {
            "codec": self.format_name,
            "qualities": list(self.qualities),
            "subsampling": self.subsampling,
            "rounding": self.rounding,
            "learn_step": self.learn_step,
            "rate_weights": [float(w) for w in self.rate_weights],
            "optimize": self.optimize,
        }

    # --- tables ---------------------------------------------------------------------
    def tables(self, quality: int) -> torch.Tensor:
        """(2,8,8) float tables actually used (rounded and clamped like the real file's);
        differentiable in ``log_step`` through a straight-through rounding."""
        base = torch.from_numpy(np.stack(ijg_quant_tables(quality))).float()
        base = base.to(self.log_step.device)
        if not self.learn_step:
            return base
        scaled = base * torch.exp(self.log_step)
        return T.ste_round(scaled).clamp(1.0, 255.0)

    def integer_tables(self, quality: int) -> list[list[int]]:
        """The tables for Pillow's ``qtables=`` (natural order, ints)."""
        t = self.tables(quality).detach().round().clamp(1, 255).to(torch.int64).cpu()
        return [t[0].flatten().tolist(), t[1].flatten().tolist()]

    # --- proxy ----------------------------------------------------------------------
    def _quantise(self, c: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        q = c / step
        if self.rounding == "noise" and self.training:
            return q + torch.empty_like(q).uniform_(-0.5, 0.5)
        return T.ste_round(q)

    def _code_plane(self, plane: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One component (N,1,H,W) in level-shifted 0..255 units -> (decoded, q coeffs)."""
        q = self._quantise(T.block_dct(plane), step)
        return T.block_idct(q * step), q

    def rate_features(self, qs: list[torch.Tensor]) -> torch.Tensor:
        """(N,3) rate features from the quantised coefficients of every component."""
        n = qs[0].shape[0]
        ac = torch.zeros(n, device=qs[0].device)
        dc = torch.zeros(n, device=qs[0].device)
        for q in qs:
            mag = torch.log2(1.0 + q.abs())
            ac = ac + mag.sum(dim=(1, 2, 3, 4, 5)) - mag[..., 0, 0].sum(dim=(1, 2, 3))
            d = q[..., 0, 0]
            ddc = torch.cat([d[..., :1], d[..., 1:] - d[..., :-1]], dim=-1)
            dc = dc + torch.log2(1.0 + ddc.abs()).sum(dim=(1, 2, 3))
        return torch.stack([ac, dc, torch.ones_like(ac)], dim=1)

    def simulate_with_features(
        self, x: torch.Tensor, quality: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,C,H,W) in [0,1] -> (decoded proxy image, (N,3) rate features)."""
        n, c, h, w = x.shape
        tables = self.tables(quality)
        sub = c == 3 and self.subsampling == "4:2:0"
        xp = T.pad_to_multiple(x, 16 if sub else 8)
        ycc = T.rgb_to_ycbcr(xp) if c == 3 else xp
        ycc = ycc * 255.0 - 128.0
        y_hat, qy = self._code_plane(ycc[:, :1], tables[0])
        planes, qs = [y_hat], [qy]
        if c == 3:
            chroma = T.downsample2(ycc[:, 1:]) if sub else ycc[:, 1:]
            cbcr = chroma.reshape(n * 2, 1, *chroma.shape[-2:])
            c_hat, qc = self._code_plane(cbcr, tables[1])
            c_hat = c_hat.reshape(n, 2, *c_hat.shape[-2:])
            planes.append(T.upsample2(c_hat) if sub else c_hat)
            qs.append(qc.reshape(n, 2, *qc.shape[2:]))
        out = (torch.cat(planes, dim=1) + 128.0) / 255.0
        if c == 3:
            out = T.ycbcr_to_rgb(out)
        out = out[..., :h, :w]
        out = out + (out.clamp(0.0, 1.0) - out).detach()  # the decoder's clamp, gradient kept
        out = T.ste_round(out * 255.0) / 255.0
        return out, self.rate_features(qs)

    def simulate(self, x: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        x_hat, feats = self.simulate_with_features(x, quality)
        return x_hat, feats @ self.rate_weights

    # --- real codec -----------------------------------------------------------------
    def encode(self, image: np.ndarray, quality: int, mark: bytes | None = None) -> bytes:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        grey = image.ndim == 2 or image.shape[2] == 1
        im = Image.fromarray(image[..., 0] if image.ndim == 3 and grey else image)
        tables = self.integer_tables(quality)
        kwargs: dict = {"qtables": tables[:1] if grey else tables, "optimize": self.optimize}
        if not grey:
            kwargs["subsampling"] = 2 if self.subsampling == "4:2:0" else 0
        if mark:
            kwargs["comment"] = mark  # a COM segment
        buf = io.BytesIO()
        im.save(buf, format="JPEG", **kwargs)
        return buf.getvalue()
