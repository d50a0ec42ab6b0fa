"""AVIF (libavif/AV1 via Pillow) behind the proxy interface.

AV1's real toolset (variable block transforms, intra prediction, loop filters) is not
differentiable, so, as the sandwich papers do for HEVC/VVC, training uses a DCT-domain
stand-in: JFIF YCbCr, 4:2:0, 8x8 DCT with a flat quantiser whose step rises with the
frequency as ``step(q) * (1 + slope*(u+v))``. :mod:`perceptual_codec.sandwich.calibrate`
fits the step per quality (so the stand-in's error matches real AVIF's on training crops)
and the rate weights (to real AVIF sizes); the defaults below come from that fit. With
``real_forward=True`` (the default) the forward values are the real AVIF decode and the rate
values the real file sizes, so the stand-in only shapes the gradient.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch

from perceptual_codec.sandwich.proxies.jpeg_proxy import JpegProxy

#: AVIF quality -> luma DCT step of the stand-in (fitted at speed 8 on BSDS500 train crops;
#: log-interpolated in between)
DEFAULT_STEP_TABLE = {20: 62.19, 28: 44.51, 40: 28.98, 52: 16.91, 64: 9.88, 76: 5.74, 90: 2.80}
#: (w_ac, w_dc, w_0) fitted to real AVIF sizes with that table (Pearson r = 0.995)
DEFAULT_AVIF_RATE_WEIGHTS = (2.1464, 8.4986, 2083.22)


class AvifProxy(JpegProxy):
    """DCT stand-in for AVIF + the real libavif encoder.

    Args:
        qualities: Pillow AVIF quality settings (0..100) of the ladder.
        speed: libavif encoder speed (0 slowest/best .. 10 fastest).
        step_table: {quality: luma step} of the stand-in; None uses the fitted defaults.
        chroma_factor: chroma step relative to luma.
        slope: growth of the step with the frequency index u+v.
        rate_weights: (w_ac, w_dc, w_0); None uses the fitted defaults.
    """

    format_name = "avif"
    extension = ".avif"

    def __init__(
        self,
        qualities: Sequence[int] = (28, 40, 52, 64, 76),
        speed: int = 8,
        step_table: dict[int, float] | None = None,
        chroma_factor: float = 1.5,
        slope: float = 0.15,
        rounding: str = "ste",
        learn_step: bool = False,
        rate_weights: Sequence[float] | None = None,
        real_forward: bool = True,
    ) -> None:
        super().__init__(
            qualities,
            subsampling="4:2:0",
            rounding=rounding,
            learn_step=learn_step,
            rate_weights=rate_weights or DEFAULT_AVIF_RATE_WEIGHTS,
            real_forward=real_forward,
        )
        self.speed = int(speed)
        table = step_table or DEFAULT_STEP_TABLE
        self.step_table = {int(k): float(v) for k, v in sorted(table.items(), key=lambda kv: int(kv[0]))}
        self.chroma_factor = float(chroma_factor)
        self.slope = float(slope)

    def config(self) -> dict:
        return {
            "codec": self.format_name,
            "qualities": list(self.qualities),
            "speed": self.speed,
            "step_table": {str(k): v for k, v in self.step_table.items()},
            "chroma_factor": self.chroma_factor,
            "slope": self.slope,
            "rounding": self.rounding,
            "learn_step": self.learn_step,
            "rate_weights": [float(w) for w in self.rate_weights],
        }

    def luma_step(self, quality: int) -> float:
        """Log-linear interpolation of the calibrated step table."""
        ks = np.array(list(self.step_table))
        vs = np.log(np.array(list(self.step_table.values())))
        return float(np.exp(np.interp(quality, ks, vs)))

    def tables(self, quality: int) -> torch.Tensor:
        u = torch.arange(8, dtype=torch.float32)
        ramp = 1.0 + self.slope * (u.view(-1, 1) + u.view(1, -1))
        step = self.luma_step(quality)
        base = torch.stack([step * ramp, step * self.chroma_factor * ramp]).to(self.log_step)
        return base * torch.exp(self.log_step) if self.learn_step else base

    def encode(self, image: np.ndarray, quality: int, mark: bytes | None = None) -> bytes:
        from PIL import Image

        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        im = Image.fromarray(image)
        if im.mode == "L":  # Pillow's AVIF writer takes RGB; a grey carrier stays R=G=B
            im = im.convert("RGB")
        kwargs: dict = {"quality": int(quality), "subsampling": "4:2:0", "speed": self.speed}
        if mark:
            from perceptual_codec.sandwich.container import exif_with_mark

            kwargs["exif"] = exif_with_mark(mark)  # EXIF ImageDescription
        buf = io.BytesIO()
        im.save(buf, format="AVIF", **kwargs)
        return buf.getvalue()

