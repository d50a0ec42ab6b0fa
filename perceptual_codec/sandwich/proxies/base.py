"""One interface for every codec a sandwich can wrap.

Training needs ``forward(x, quality) -> (x_hat, bits)``, differentiable in ``x``; inference
needs the real codec: ``encode(uint8 image, quality) -> bytes`` and ``decode(bytes) -> uint8``.
A user plugs in another codec by subclassing :class:`CodecProxy` and filling in
``simulate``, ``encode`` and ``decode``.

With ``real_forward=True`` the forward pass *returns the real codec's decode* while the
gradient flows through the proxy (a straight-through substitution), so the post-processor
always trains on genuine codec artefacts; likewise the rate's value is the real file size
with the proxy estimate's gradient, so the proxy only has to be good for gradients.
"""

from __future__ import annotations

import abc
import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from perceptual_codec.core.errors import BitstreamError


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C,H,W) float in [0,1] -> HxWxC (or HxW for one channel) uint8, rounded."""
    arr = (x.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    arr = np.transpose(arr, (1, 2, 0))
    return arr[..., 0] if arr.shape[2] == 1 else arr


def uint8_to_tensor(a: np.ndarray) -> torch.Tensor:
    """HxWxC or HxW uint8 -> (C,H,W) float in [0,1]."""
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float() / 255.0


class CodecProxy(nn.Module, abc.ABC):
    """Base class: a differentiable codec model tied to a real file format.

    Args:
        qualities: the codec settings of the quality ladder; ``quality`` arguments are these
            settings (e.g. a libjpeg quality), and models pick one per ladder step.
        real_forward: substitute the real codec's decode in the forward pass (see module doc).
    """

    #: short name of the file format ("jpeg", "avif"); also the container kind
    format_name: str = ""
    #: file extension written by ``pcodec compress``
    extension: str = ""

    def __init__(self, qualities: Sequence[int], real_forward: bool = True) -> None:
        super().__init__()
        if not qualities:
            raise ValueError("a codec proxy needs at least one quality setting")
        self.qualities = [int(q) for q in qualities]
        self.real_forward = real_forward

    def config(self) -> dict:
        """JSON-friendly constructor arguments plus ``codec`` (the :data:`PROXIES` key), so
        exported weights can rebuild the proxy."""
        raise NotImplementedError(f"{type(self).__name__} does not describe its config")

    # --- training -------------------------------------------------------------------
    @abc.abstractmethod
    def simulate(self, x: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable stand-in: (N,C,H,W) in [0,1] -> (x_hat, estimated bits per image)."""

    def forward(self, x: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        x_hat, bits = self.simulate(x, quality)
        if self.real_forward:
            real, real_bits = self.real_roundtrip(x, quality, with_bits=True)
            x_hat = x_hat + (real - x_hat).detach()
            # rescale each image's estimate to its real size: the value is the true rate,
            # the gradient the proxy's (so the rate model only needs the right shape)
            bits = bits * (real_bits / bits.detach().clamp_min(1.0))
        return x_hat, bits

    @torch.no_grad()
    def real_roundtrip(self, x: torch.Tensor, quality: int, with_bits: bool = False):
        """Encode and decode every image of a batch with the real codec (and the sizes)."""
        images, sizes = [], []
        for im in x:
            data = self.encode(tensor_to_uint8(im), quality)
            images.append(uint8_to_tensor(self.decode(data)))
            sizes.append(8.0 * len(data))
        out = torch.stack(images).to(x)
        if with_bits:
            return out, torch.tensor(sizes, dtype=x.dtype, device=x.device)
        return out

    @torch.no_grad()
    def real_bits(self, x: torch.Tensor, quality: int) -> torch.Tensor:
        """Real file sizes in bits, one per image (for logging and calibration)."""
        sizes = [8 * len(self.encode(tensor_to_uint8(im), quality)) for im in x]
        return torch.tensor(sizes, dtype=x.dtype, device=x.device)

    # --- real codec -----------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, image: np.ndarray, quality: int, mark: bytes | None = None) -> bytes:
        """Real encoder: uint8 HxWx3 (or HxW) -> file bytes, embedding the sandwich ``mark``
        line where the format keeps metadata (see :mod:`perceptual_codec.sandwich.container`)."""

    def decode(self, data: bytes) -> np.ndarray:
        """Real decoder: file bytes -> uint8 HxWx3 (or HxW for a grey file)."""
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.format is None or im.format.lower() not in self.accepted_formats():
                    raise BitstreamError(
                        f"expected a {self.format_name.upper()} file, got {im.format or 'unknown'}"
                    )
                im.load()
                mode = "L" if im.mode in ("L", "1", "I;16") else "RGB"
                return np.asarray(im.convert(mode))
        except BitstreamError:
            raise
        except Exception as exc:  # Pillow raises many types for broken files
            raise BitstreamError(
                f"cannot decode {self.format_name.upper()} data: {exc}"
            ) from exc

    def accepted_formats(self) -> tuple[str, ...]:
        return (self.format_name,)
