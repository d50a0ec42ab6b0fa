"""Real Pillow encoders and a small search for the setting that hits a target bitrate.

Bits per pixel (bpp) = 8 * file bytes / (width * height). Each codec has one quality knob;
bpp grows (almost) monotonically with it, so a bisection over the knob finds the setting
whose real file is closest to the target, and the neighbours of the last bracket are
checked because bpp(q) is not strictly monotone. The search never extrapolates: when the
target lies outside what the codec can reach, the nearest end is returned and reported.

Codecs: ``jpeg`` (libjpeg, quality 1-95, 4:2:0), ``webp`` (libwebp, quality 0-100),
``avif`` (libavif, quality 0-100; Pillow >= 11.3 or pillow-avif-plugin), ``jpeg2000``
(OpenJPEG, compression ratio searched on a log scale) and ``jxl`` (pillow-jxl-plugin,
quality 0-100) where installed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, features

from perceptual_codec.core.errors import UserFacingError


class CodecUnavailableError(UserFacingError, ValueError):
    """A codec name is unknown or its Pillow plugin is not installed."""


@dataclass(frozen=True)
class Encoded:
    codec: str
    setting: float
    data: bytes
    bpp: float
    extension: str


@dataclass(frozen=True)
class _Codec:
    extension: str
    lo: float
    hi: float
    integer: bool
    save: Callable[[Image.Image, io.BytesIO, float], None]
    log_scale: bool = False
    descending: bool = False  # larger setting -> smaller file (compression ratios)


def _jpeg(im, buf, q):
    im.save(buf, "JPEG", quality=int(q), subsampling="4:2:0", optimize=True)


def _webp(im, buf, q):
    im.save(buf, "WEBP", quality=int(q), method=4)


def _avif(im, buf, q):
    im.save(buf, "AVIF", quality=int(q), speed=8)


def _jp2(im, buf, ratio):
    im.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[float(ratio)], irreversible=True)


def _jxl(im, buf, q):
    im.save(buf, "JXL", quality=int(q))


def _avif_available() -> bool:
    if features.check("avif"):
        return True
    try:
        import pillow_avif  # noqa: F401
    except ImportError:
        return False
    return True


def _jxl_available() -> bool:
    try:
        import pillow_jxl  # noqa: F401
    except ImportError:
        return False
    return True


CODECS: dict[str, tuple[_Codec, Callable[[], bool]]] = {
    "jpeg": (_Codec(".jpg", 1, 95, True, _jpeg), lambda: True),
    "webp": (_Codec(".webp", 0, 100, True, _webp), lambda: features.check("webp")),
    "avif": (_Codec(".avif", 0, 100, True, _avif), _avif_available),
    "jpeg2000": (
        _Codec(".jp2", 2.0, 2000.0, False, _jp2, log_scale=True, descending=True),
        lambda: features.check("jpg_2000"),
    ),
    "jxl": (_Codec(".jxl", 0, 100, True, _jxl), _jxl_available),
}


def available_codecs() -> list[str]:
    return [name for name, (_, ok) in CODECS.items() if ok()]


def encode(image: Image.Image, codec: str, setting: float) -> Encoded:
    """Encode ``image`` (RGB) with one codec setting; the real file's bytes and bpp."""
    spec = _spec(codec)
    buf = io.BytesIO()
    spec.save(image, buf, setting)
    data = buf.getvalue()
    return Encoded(codec, setting, data, 8.0 * len(data) / (image.width * image.height),
                   spec.extension)


def _spec(codec: str) -> _Codec:
    if codec not in CODECS:
        raise CodecUnavailableError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    spec, ok = CODECS[codec]
    if not ok():
        raise CodecUnavailableError(
            f"codec {codec!r} is not available in this Pillow build "
            f"(available: {', '.join(available_codecs())})"
        )
    return spec


def match_bitrate(image: Image.Image, codec: str, target_bpp: float, steps: int = 12) -> Encoded:
    """The encoding of ``image`` whose bpp is closest to ``target_bpp``."""
    if not (target_bpp > 0 and math.isfinite(target_bpp)):
        raise UserFacingError(f"target bitrate must be a positive number of bpp, got {target_bpp}")
    spec = _spec(codec)
    image = image.convert("RGB")
    tried: dict[float, Encoded] = {}

    def at(t: float) -> Encoded:
        # t in [0, 1] maps to the codec's setting, increasing in file size
        if spec.descending:
            t = 1.0 - t
        if spec.log_scale:
            setting = math.exp(math.log(spec.lo) + t * (math.log(spec.hi) - math.log(spec.lo)))
        else:
            setting = spec.lo + t * (spec.hi - spec.lo)
        if spec.integer:
            setting = float(round(setting))
        if setting not in tried:
            tried[setting] = encode(image, codec, setting)
        return tried[setting]

    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if at(mid).bpp < target_bpp:
            lo = mid
        else:
            hi = mid
        if spec.integer and abs(at(lo).setting - at(hi).setting) <= 1:
            break
    at(lo), at(hi)
    return min(tried.values(), key=lambda e: (abs(e.bpp - target_bpp), e.bpp))
