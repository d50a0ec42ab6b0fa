"""User-supplied saliency / region-of-interest masks.

A mask is any image file (normally a grayscale PNG). Policy:

- read with :func:`perceptual_codec.core.io.load_image` (EXIF-oriented like the image
  itself; transparent pixels count as 0, i.e. alpha is composited on **black**);
- colour masks are reduced to luma (ITU-R BT.601 weights, as Pillow's ``L`` mode);
- values are scaled by the file's bit depth (0 -> 0.0, 255 or 65535 -> 1.0), not by the
  mask's own maximum, so a mask that is grey everywhere stays uniformly "half important";
- the mask is resized to the image (bilinear, antialiased when shrinking). Its aspect ratio
  must match the image's within 2%; a mask of another shape is almost always the wrong file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from perceptual_codec.core.errors import UserFacingError
from saliency.base import SaliencyModel

_LUMA = torch.tensor([0.299, 0.587, 0.114])
ASPECT_TOLERANCE = 0.02


class UserMapError(UserFacingError, ValueError):
    """A user saliency mask cannot be used for this image."""


def _read_mask(path: Path) -> torch.Tensor:
    from perceptual_codec.core.io import load_image

    rgb = load_image(path, background=(0.0, 0.0, 0.0))
    return (rgb * _LUMA[:, None, None]).sum(dim=0)


def resize_map(mask: torch.Tensor, size: tuple[int, int], what: str = "mask") -> torch.Tensor:
    """(h, w) map -> ``size`` = (H, W), refusing a different aspect ratio (see module doc)."""
    h, w = mask.shape
    height, width = size
    if height <= 0 or width <= 0:
        raise ValueError(f"target size must be positive, got {size}")
    ratio = (w / h) / (width / height)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        raise UserMapError(
            f"{what} is {w}x{h} but the image is {width}x{height}: the aspect ratios differ; "
            "give a mask drawn on this image (any scale of it works)"
        )
    if (h, w) == (height, width):
        return mask.clone()
    out = F.interpolate(mask[None, None].float(), size=(height, width), mode="bilinear",
                        align_corners=False, antialias=height < h or width < w)
    return out[0, 0].clamp(0.0, 1.0)


def load_user_map(path: str | os.PathLike[str], size: tuple[int, int]) -> np.ndarray:
    """Read a user mask and fit it to an image of ``size`` = (height, width).

    Returns float32 (height, width) in [0, 1]. Raises ``ImageReadError`` for an unreadable
    file and :class:`UserMapError` for a mask whose aspect ratio does not match.
    """
    path = Path(path)
    return resize_map(_read_mask(path), size, what=f"mask {path.name}").numpy().astype(np.float32)


class UserMapSaliency(SaliencyModel):
    """A fixed user mask behaving as a model: every image gets the mask at its size."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self.mask = _read_mask(self.path)  # read once, fail early
        self.name = f"user:{self.path.name}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_batch(x)
        n, _, h, w = x.shape
        m = resize_map(self.mask, (h, w), what=f"mask {self.path.name}")
        return m.to(x.device)[None, None].expand(n, 1, h, w).clone()
