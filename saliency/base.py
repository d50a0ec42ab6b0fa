"""The one interface every saliency model has, and the conversion of any image input to it.

A model is an ``nn.Module`` whose ``forward`` maps (N,3,H,W) RGB in [0,1] to (N,1,H,W) maps
in [0,1] at the same size (each map's maximum is 1 unless the map is empty). ``predict``
takes one image in whatever form a user has it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from perceptual_codec.core.errors import ImageReadError

ImageLike = Any  # str | os.PathLike | bytes | PIL.Image.Image | np.ndarray | torch.Tensor


def _float_chw(x: torch.Tensor, what: str) -> torch.Tensor:
    """(C,H,W) float in [0,1] with C in 1..4 -> RGB (3,H,W); alpha composited on white,
    the same policy as :func:`perceptual_codec.core.io.load_image`."""
    c, h, w = x.shape
    if c not in (1, 2, 3, 4):
        raise ImageReadError(f"{what}: expected 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) "
                             f"channels, got {c}")
    if h == 0 or w == 0:
        raise ImageReadError(f"{what}: the image is empty ({h}x{w})")
    x = torch.nan_to_num(x.float(), nan=0.0).clamp(0.0, 1.0)
    if c in (2, 4):
        colour, alpha = x[:-1], x[-1:]
        x = colour * alpha + (1.0 - alpha)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x.contiguous()


def _array_to_tensor(a: np.ndarray, what: str) -> torch.Tensor:
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ImageReadError(f"{what}: expected an array (H,W) or (H,W,C), got shape {a.shape}")
    if a.dtype in (np.uint8, np.uint16):
        from perceptual_codec.core.io import to_tensor

        return to_tensor(a)  # the project's scaling: v / 255 or v / 65535
    if a.dtype == np.bool_ or a.dtype.kind == "f":
        return torch.from_numpy(np.ascontiguousarray(a.astype(np.float32).transpose(2, 0, 1)))
    raise ImageReadError(f"{what}: expected uint8, uint16, bool or float pixels, got {a.dtype}")


def as_image_tensor(image: ImageLike) -> torch.Tensor:
    """Any image input -> RGB float tensor (3,H,W) in [0,1].

    Accepts a path or encoded bytes (read by :func:`perceptual_codec.core.io.load_image`:
    EXIF-oriented, alpha on white), a PIL image, a uint8/uint16/float array (H,W) or (H,W,C),
    or a tensor (H,W), (C,H,W) or (1,C,H,W) (uint8, or float in [0,1]); C is 1-4.
    """
    if isinstance(image, (str, os.PathLike, bytes)):
        from perceptual_codec.core.io import load_image

        return load_image(image)
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3:
            raise ImageReadError(f"image tensor: expected (H,W), (C,H,W) or (1,C,H,W), "
                                 f"got shape {tuple(image.shape)}")
        if t.dtype == torch.uint8:
            t = t.float() / 255.0
        elif not t.is_floating_point():
            raise ImageReadError(f"image tensor: expected uint8 or float, got {t.dtype}")
        return _float_chw(t, "image tensor")
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        im = image
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.clip(np.asarray(im, dtype=np.int64), 0, 65535).astype(np.uint16)
        elif im.mode == "F":
            arr = np.asarray(im, dtype=np.float32)
        elif im.mode in ("LA", "RGBA", "L", "RGB"):
            arr = np.asarray(im)
        elif im.mode == "1":
            arr = np.asarray(im.convert("L"))
        else:
            arr = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"))
        return _float_chw(_array_to_tensor(arr, "PIL image"), "PIL image")
    if isinstance(image, np.ndarray):
        return _float_chw(_array_to_tensor(image, "image array"), "image array")
    raise ImageReadError(
        f"cannot read an image from a {type(image).__name__}: pass a path, PIL image, "
        "numpy array or torch tensor"
    )


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Scale each (N,1,H,W) map to [0,1] by its minimum and maximum (flat maps become 0)."""
    n = maps.shape[0]
    flat = maps.reshape(n, -1).float()
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    out = (flat - lo) / (hi - lo).clamp_min(1e-12)
    out = torch.where((hi - lo) > 1e-12, out, torch.zeros_like(out))
    return out.reshape(maps.shape)


class SaliencyModel(nn.Module):
    """Base class: subclasses implement ``forward(x) -> (N,1,H,W)`` in [0,1]."""

    name: str = "saliency"

    def check_batch(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected an image batch (N,3,H,W) in [0,1], got {shape}")
        if x.shape[-1] == 0 or x.shape[-2] == 0:
            raise ValueError(f"empty image batch of shape {tuple(x.shape)}")

    @torch.no_grad()
    def predict_batch(self, x: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) RGB in [0,1] -> (N,1,H,W) saliency in [0,1], without gradients."""
        self.check_batch(x)
        return self(x).clamp(0.0, 1.0)

    def predict(self, image: ImageLike) -> np.ndarray:
        """One image (path, PIL, array or tensor; any size) -> float32 (H,W) map in [0,1]."""
        x = as_image_tensor(image)
        device = next((p.device for p in self.parameters()), torch.device("cpu"))
        out = self.predict_batch(x[None].to(device))
        return out[0, 0].float().cpu().numpy().astype(np.float32, copy=False)
