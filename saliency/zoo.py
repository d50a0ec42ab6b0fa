"""Named saliency models (a zoo in CompressAI's style) and :func:`load_model`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perceptual_codec.core.errors import AssetNotFoundError, UserFacingError
from saliency.base import SaliencyModel

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SHIPPED_WEIGHTS = WEIGHTS_DIR / "saliency_effnet_lite0.pt"
# sha256 of the released weights file (see saliency/MODEL_CARD.md).
SHIPPED_SHA256 = "03ae648e8a2ce8eddaeec4ccb9127eecbc4e24661c96403a83671b2c4c2eddf9"
_USER_MAP_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm"}
_WEIGHT_EXTS = {".pt", ".pth"}


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    build: Callable[[], SaliencyModel]
    available: Callable[[], bool]


def _learned() -> SaliencyModel:
    from perceptual_codec.core.assets import verify_sha256
    from saliency.learned import load_weights

    if not SHIPPED_WEIGHTS.is_file():
        raise AssetNotFoundError(
            f"the shipped saliency weights are missing ({SHIPPED_WEIGHTS}); reinstall the "
            "package, or pick a classic model: --model spectral-residual | fine-grained | "
            "center | classic-mix"
        )
    verify_sha256(SHIPPED_WEIGHTS, SHIPPED_SHA256, what="saliency weights")
    return load_weights(SHIPPED_WEIGHTS, name="saliency")


def _has_cv2_saliency() -> bool:
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "saliency")


def _classic(cls_name: str) -> Callable[[], SaliencyModel]:
    def build() -> SaliencyModel:
        from saliency import classic

        return getattr(classic, cls_name)()

    return build


MODELS: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("saliency", "learned EfficientNet-Lite0 saliency model (default; NUS fixations)",
              _learned, SHIPPED_WEIGHTS.is_file),
        Entry("spectral-residual", "spectral residual saliency (Hou & Zhang 2007, OpenCV)",
              _classic("SpectralResidual"), _has_cv2_saliency),
        Entry("fine-grained", "fine-grained saliency (Montabone & Soto 2010, OpenCV)",
              _classic("FineGrained"), _has_cv2_saliency),
        Entry("center", "centre-bias prior: Gaussian, std 0.15 x height/width",
              _classic("CenterBias"), lambda: True),
        Entry("classic-mix", "mean of spectral residual and fine-grained times the centre prior",
              _classic("ClassicMix"), _has_cv2_saliency),
    )
}
ALIASES = {"default": "saliency", "learned": "saliency", "centre": "center", "mix": "classic-mix"}


def load_model(name_or_path: str | os.PathLike[str] = "saliency") -> SaliencyModel:
    """A saliency model by zoo name, or from a path: a ``.pt`` weights file written by
    ``pcodec train saliency --export_to``, or a user mask image (see
    :mod:`saliency.user_map`). The model is in eval mode on the CPU."""
    if isinstance(name_or_path, str) and name_or_path in ALIASES:
        name_or_path = ALIASES[name_or_path]
    if isinstance(name_or_path, str) and name_or_path in MODELS:
        return MODELS[name_or_path].build().eval()
    path = Path(name_or_path)
    suffix = path.suffix.lower()
    if suffix in _WEIGHT_EXTS or suffix in _USER_MAP_EXTS:
        if not path.is_file():
            raise AssetNotFoundError(f"saliency model file not found: {path}")
        if suffix in _WEIGHT_EXTS:
            from saliency.learned import load_weights

            return load_weights(path).eval()
        from saliency.user_map import UserMapSaliency

        return UserMapSaliency(path).eval()
    raise UserFacingError(
        f"unknown saliency model '{name_or_path}': choose one of {', '.join(MODELS)}, "
        "a .pt weights file, or a mask image (PNG)"
    )


def list_models() -> list[dict]:
    """Rows for ``pcodec models``: name, kind, description, available."""
    return [
        {"name": e.name, "kind": "saliency", "description": e.description,
         "available": bool(e.available())}
        for e in MODELS.values()
    ]
