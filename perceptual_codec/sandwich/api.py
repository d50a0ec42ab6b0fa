"""Sandwich files for ``pcodec compress/decompress/info``.

``compress_sandwich`` writes a real JPEG/AVIF file of the neural code image plus a mark
naming the post-processor; ``decompress_sandwich`` reads the mark and applies it, and decodes
an unmarked JPEG/AVIF as the plain format (with a warning), so any standard file works.
"""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np

from perceptual_codec.core.errors import BitstreamError, ImageReadError
from perceptual_codec.sandwich.container import build_mark, read_mark, sniff_format

log = logging.getLogger(__name__)
_HASH_CHARS = 12  # sha256 prefix stored in the mark


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageReadError(f"expected a uint8 numpy image, got {getattr(image, 'dtype', type(image))}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ImageReadError(f"expected an HxWx3 RGB image, got shape {image.shape}")
    if max(image.shape[:2]) > 65535:
        raise ImageReadError(f"image {image.shape[1]}x{image.shape[0]} exceeds 65535 pixels a side")
    return np.ascontiguousarray(image)


def encode_with(model, level: int, image: np.ndarray, name: str, sha256: str) -> bytes:
    """Encode with an already loaded model (the zoo-free core of :func:`compress_sandwich`)."""
    image = _check_image(image)
    h, w = image.shape[:2]
    mark = build_mark(
        {
            "model": name,
            "level": level + 1,
            "quality": model.codec.qualities[level],
            "weights": sha256[:_HASH_CHARS],
            "width": w,
            "height": h,
            "carrier": model.carrier,
        }
    )
    return model.encode(image, level, mark)


def decode_with(model, data: bytes, mark: dict) -> np.ndarray:
    """Decode the code image and apply ``model``'s post-processor at the mark's level."""
    return post_process_with(model, model.codec.decode(bytes(data)), mark)


def post_process_with(model, code: np.ndarray, mark: dict) -> np.ndarray:
    if not 1 <= mark["level"] <= model.levels:
        raise BitstreamError(
            f"the sandwich mark asks for quality {mark['level']}, but {mark['model']!r} has "
            f"1..{model.levels}"
        )
    return model.post_process(code, mark["level"] - 1, (mark["height"], mark["width"]))


def compress_sandwich(image: np.ndarray, model: str = "sandwich-jpeg", quality: int = 3) -> bytes:
    """uint8 HxWx3 -> bytes of a standard JPEG/AVIF file with the sandwich mark."""
    from perceptual_codec.sandwich.zoo import load_sandwich

    net, level, sha = load_sandwich(model, quality)
    return encode_with(net, level, image, model, sha)


def _plain_decode(data: bytes, fmt: str, grey: bool = False) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            im.load()
            return np.asarray(im.convert("L" if grey else "RGB"))
    except Exception as exc:
        raise BitstreamError(f"cannot decode this {fmt.upper()} file: {exc}") from exc


def decompress_sandwich(data: bytes) -> np.ndarray:
    """Bytes of a sandwich (or plain) JPEG/AVIF file -> uint8 HxWx3 reconstruction."""
    from perceptual_codec.sandwich.zoo import MODELS, load_sandwich

    fmt, mark, _ = read_mark(data)
    if mark is None:
        msg = f"no sandwich mark in this {fmt.upper()} file: decoded as a plain {fmt.upper()}"
        warnings.warn(msg, stacklevel=2)
        log.info(msg)
        return _plain_decode(data, fmt)
    if mark["codec"] != fmt:
        raise BitstreamError(f"the sandwich mark says {mark['codec']} but the file is {fmt}")
    if mark["model"] not in MODELS:
        raise BitstreamError(
            f"this file names the post-processor {mark['model']!r}, which this pcodec does not "
            f"have (known: {', '.join(MODELS)}); any viewer still opens it as a plain {fmt.upper()}"
        )
    code = _plain_decode(data, fmt, grey=mark["carrier"] == "gray")  # validates the file first
    net, _, sha = load_sandwich(mark["model"], 1)
    if not sha.startswith(mark["weights"]):
        raise BitstreamError(
            f"this file was made with other weights of {mark['model']!r} (sha256 "
            f"{mark['weights']}..., installed {sha[:_HASH_CHARS]}...); open it as a plain "
            f"{fmt.upper()} in any viewer, or install the pcodec version that wrote it"
        )
    return post_process_with(net, code, mark)


def is_sandwich_file(data: bytes) -> bool:
    """True for a JPEG/AVIF file that carries a sandwich mark (never raises)."""
    try:
        return read_mark(data)[1] is not None
    except BitstreamError:
        return False


def describe(data: bytes) -> dict:
    """Facts about a file for ``pcodec info``."""
    fmt, mark, (cw, ch) = read_mark(data)
    info: dict = {
        "container": f"sandwich-{fmt}" if mark else fmt,
        "format": fmt,
        "bytes": len(data),
        "code_image": f"{cw}x{ch}",
        "sandwich": mark is not None,
    }
    if mark:
        w, h = mark["width"], mark["height"]
        info.update(
            model=mark["model"],
            quality=mark["level"],
            codec_quality=mark["quality"],
            weights_sha256=mark["weights"],
            carrier=mark["carrier"],
            width=w,
            height=h,
            bpp=round(8 * len(data) / (w * h), 4),
        )
    else:
        info.update(width=cw, height=ch, bpp=round(8 * len(data) / (cw * ch), 4))
    return info


__all__ = ["compress_sandwich", "decompress_sandwich", "describe", "is_sandwich_file", "sniff_format"]
