"""The sandwich: pre-processor -> standard codec (proxy or real) -> post-processor."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from perceptual_codec.sandwich.processors import PostProcessor, PreProcessor
from perceptual_codec.sandwich.proxies.base import CodecProxy, tensor_to_uint8, uint8_to_tensor
from perceptual_codec.sandwich.transforms import ste_round

CARRIERS = {"rgb": 3, "gray": 1}


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0,1] and round to 8-bit levels, straight-through for gradients."""
    x = x + (x.clamp(0.0, 1.0) - x).detach()
    return ste_round(x * 255.0) / 255.0


class SandwichModel(nn.Module):
    """Pre/post-processors around one codec, shared across the codec's quality ladder.

    Args:
        codec: the proxy (and real codec) in the middle.
        carrier: "rgb" (3-channel code image) or "gray" (1-channel code image).
        downsample: code at 1/downsample resolution.
        pre_channels / post_channels: U-Net widths.
    """

    def __init__(
        self,
        codec: CodecProxy,
        carrier: str = "rgb",
        downsample: int = 1,
        pre_channels: tuple[int, ...] = (16, 32, 64),
        post_channels: tuple[int, ...] = (16, 32, 64),
    ) -> None:
        super().__init__()
        if carrier not in CARRIERS:
            raise ValueError(f"carrier must be one of {sorted(CARRIERS)}, not {carrier!r}")
        self.codec = codec
        self.carrier = carrier
        c = CARRIERS[carrier]
        self.pre = PreProcessor(3, c, pre_channels, downsample)
        self.post = PostProcessor(c, 3, post_channels, downsample)

    @property
    def levels(self) -> int:
        return len(self.codec.qualities)

    def position(self, level: int) -> float:
        """Ladder position in [0,1] fed to the U-Nets (level is 0-based)."""
        if not 0 <= level < self.levels:
            raise ValueError(f"level {level} outside the ladder 0..{self.levels - 1}")
        return level / max(self.levels - 1, 1)

    def forward(
        self, x: torch.Tensor, level: int, through_proxy: bool = True
    ) -> dict[str, torch.Tensor]:
        """Training pass. ``through_proxy=False`` runs the real codec only (no gradient
        reaches the pre-processor), for post-processor-only training."""
        t = self.position(level)
        q = self.codec.qualities[level]
        if through_proxy:
            code = to_8bit(self.pre(x, t))
            code_hat, bits = self.codec(code, q)
        else:
            with torch.no_grad():
                code = to_8bit(self.pre(x, t))
                code_hat, bits = self.codec.real_roundtrip(code, q, with_bits=True)
        x_hat = self.post(code_hat, t, size=tuple(x.shape[-2:]))
        pixels = x.shape[-2] * x.shape[-1]
        return {"x_hat": x_hat, "code": code, "code_hat": code_hat, "bpp": bits / pixels}

    # --- real files -------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, image: np.ndarray, level: int, mark: bytes | None = None) -> bytes:
        """uint8 HxWx3 -> a real codec file of the neural code image."""
        x = uint8_to_tensor(image)[None]
        code = to_8bit(self.pre(x, self.position(level)))
        return self.codec.encode(tensor_to_uint8(code[0]), self.codec.qualities[level], mark)

    @torch.no_grad()
    def post_process(self, code: np.ndarray, level: int, size: tuple[int, int]) -> np.ndarray:
        """Decoded code image (uint8) -> reconstruction uint8 HxWx3 of ``size``."""
        y = uint8_to_tensor(code)[None]
        want = CARRIERS[self.carrier]
        if y.shape[1] != want:
            y = y.mean(dim=1, keepdim=True) if want == 1 else y.expand(-1, 3, -1, -1)
        x_hat = self.post(y, self.position(level), size=size)
        return tensor_to_uint8(x_hat[0].clamp(0, 1))
