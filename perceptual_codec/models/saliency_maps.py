"""Saliency maps as codec input: learned model, classic fallback, user mask, or none.

The codec only needs a map in [0, 1] at image size; where it comes from is the caller's
choice. The classic fallback is OpenCV's spectral-residual saliency (Hou & Zhang, CVPR 2007),
cheap enough to compute per training crop on a small CPU.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from perceptual_codec.core.errors import ImageReadError, UserFacingError


def classic_saliency(image: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency of an ``HxWx3`` uint8 RGB image -> ``HxW`` float32 in [0, 1]."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
    h, w = image.shape[:2]
    if h < 2 or w < 2:
        return np.zeros((h, w), np.float32)
    # Spectral residual works on a thumbnail anyway (OpenCV uses 64x64): compute and blur
    # at <= 128 px, then upsample, so the map is cheap even for large images.
    scale = min(1.0, 128.0 / max(h, w))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    sr = cv2.saliency.StaticSaliencySpectralResidual_create()
    ok, sal = sr.computeSaliency(np.ascontiguousarray(small[:, :, ::-1]))
    if not ok:
        return np.zeros((h, w), np.float32)
    sal = np.asarray(sal, np.float32)
    sal = cv2.GaussianBlur(sal, (0, 0), max(1.0, 0.02 * max(sal.shape)))
    if sal.shape != (h, w):
        sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    top = float(sal.max())
    return (sal / top).astype(np.float32) if top > 0 else np.zeros((h, w), np.float32)


class ClassicSaliency(nn.Module):
    """Batched wrapper of :func:`classic_saliency` with the learned models' interface."""

    def predict(self, image: np.ndarray) -> np.ndarray:
        return classic_saliency(image)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """``(N,3,H,W)`` in [0, 1] -> ``(N,1,H,W)`` in [0, 1]."""
        maps = []
        for img in x:
            arr = (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
            maps.append(torch.from_numpy(classic_saliency(arr)))
        return torch.stack(maps)[:, None].to(x)


def load_mask(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """A user mask (any greyscale/RGB image) -> ``HxW`` float32 in [0, 1] of ``size=(H, W)``."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"saliency mask not found: {path}")
    try:
        with Image.open(path) as im:
            if im.width * im.height > 64_000_000:
                raise ImageReadError(f"saliency mask too large: {path}")
            im = im.convert("L")
            if (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            arr = np.asarray(im, np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageReadError(f"cannot read saliency mask {path}: {exc}") from None
    return arr


@lru_cache(maxsize=1)
def _learned_model():
    """The saliency package's default model, or None when it (or its weights) is missing."""
    try:
        import saliency
    except ImportError:
        return None
    loader = getattr(saliency, "load_model", None)
    if loader is None:
        return None
    try:
        return loader("default")
    except (UserFacingError, FileNotFoundError, KeyError, ValueError, RuntimeError):
        return None


def _learned_saliency(image: np.ndarray) -> np.ndarray | None:
    """Learned saliency map of ``image`` at its size, or None without a learned model."""
    model = _learned_model()
    if model is None:
        return None
    sal = np.asarray(model.predict(image), np.float32)
    if sal.shape != image.shape[:2]:
        import cv2

        sal = cv2.resize(sal, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(sal, 0.0, 1.0)


def resolve_saliency(spec, image: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Turn ``--saliency`` into a map: ``"auto"``, ``"none"``, ``"classic"``, a mask path or an
    ``HxW`` array. Returns ``(map or None, source name)``."""
    h, w = image.shape[:2]
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return None, "none"
    if isinstance(spec, np.ndarray | Tensor):
        arr = np.asarray(spec, np.float32)
        while arr.ndim > 2 and arr.shape[0] == 1:  # (1, 1, H, W) / (1, H, W)
            arr = arr[0]
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.shape != (h, w):
            raise UserFacingError(f"saliency map has shape {arr.shape}, image is {(h, w)}")
        if not np.isfinite(arr).all():
            raise UserFacingError("saliency map contains NaN or infinite values")
        if arr.max() > 1.0 + 1e-6 or arr.min() < -1e-6:
            arr = arr / 255.0 if arr.max() <= 255 and arr.min() >= 0 else arr
        return np.clip(arr, 0.0, 1.0), "array"
    if isinstance(spec, str | Path):
        if str(spec) == "auto":
            learned = _learned_saliency(image)
            if learned is not None:
                return learned, "learned"
            return classic_saliency(image), "classic"
        if str(spec) == "classic":
            return classic_saliency(image), "classic"
        return load_mask(spec, (h, w)), "mask"
    raise UserFacingError(f"saliency must be 'auto', 'none', 'classic', a mask path or an array, got {spec!r}")
