"""Standard codecs through Pillow's own plugins: each writes the same file a user would get
from ``Image.save`` and reads it back with ``Image.open``."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from benchmarks.codecs.base import CodecAdapter
from perceptual_codec.core.errors import UserFacingError


def pil_encode(image: np.ndarray, fmt: str, **params: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format=fmt, **params)
    return buf.getvalue()


def pil_decode(data: bytes, expected_format: str | None = None) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if expected_format is not None and im.format != expected_format:
            raise ValueError(f"expected a {expected_format} file, Pillow read {im.format}")
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _feature(name: str) -> tuple[bool, str]:
    from PIL import features

    try:
        ok = bool(features.check(name))
    except ValueError:
        ok = False
    if ok:
        return True, ""
    return False, f"this Pillow build has no '{name}' support (PIL.features.check('{name}'))"


def _feature_version(name: str) -> str:
    import PIL
    from PIL import features

    try:
        lib = features.version(name)
    except ValueError:
        lib = None
    return f"Pillow {PIL.__version__}" + (f", {name} {lib}" if lib else "")


class JPEGCodec(CodecAdapter):
    """libjpeg(-turbo) baseline JPEG, 4:2:0, optimised Huffman tables (what cjpeg -optimize does)."""

    name = "jpeg"
    extension = ".jpg"
    qualities = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)

    def available(self) -> tuple[bool, str]:
        return _feature("jpg")

    def settings(self) -> dict[str, Any]:
        return {"subsampling": "4:2:0", "optimize": True, "progressive": False}

    def version(self) -> str:
        return _feature_version("jpg")

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        return pil_encode(image, "JPEG", quality=int(quality), subsampling=2, optimize=True)

    def decode(self, data: bytes) -> np.ndarray:
        return pil_decode(data, "JPEG")


class WebPCodec(CodecAdapter):
    """libwebp lossy (VP8 intra, 4:2:0) at the slowest, best method."""

    name = "webp"
    extension = ".webp"
    qualities = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)

    def available(self) -> tuple[bool, str]:
        return _feature("webp")

    def settings(self) -> dict[str, Any]:
        return {"method": 6, "lossless": False}

    def version(self) -> str:
        return _feature_version("webp")

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        return pil_encode(image, "WEBP", quality=int(quality), method=6, lossless=False)

    def decode(self, data: bytes) -> np.ndarray:
        return pil_decode(data, "WEBP")


class AVIFCodec(CodecAdapter):
    """AV1 intra in an AVIF (HEIF) file via Pillow's libavif plugin, full range; 4:4:4 at
    speed 6 unless ``subsampling``/``speed`` say otherwise (in a codec spec, where ':'
    separates options, write ``avif:subsampling=420:speed=8``: the sandwich-avif settings)."""

    name = "avif"
    extension = ".avif"
    qualities = (5, 15, 25, 35, 45, 55, 65, 75, 85)
    SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0", "4:0:0")
    DEFAULTS = {"subsampling": "4:4:4", "speed": 6}

    def __init__(self, qualities: Any = None, label: str | None = None,
                 subsampling: str = DEFAULTS["subsampling"],
                 speed: int | str = DEFAULTS["speed"]) -> None:
        super().__init__(qualities, label)
        if len(str(subsampling)) == 3 and str(subsampling).isdigit():  # "420" -> "4:2:0"
            subsampling = ":".join(str(subsampling))
        if subsampling not in self.SUBSAMPLINGS:
            raise UserFacingError(f"avif: subsampling must be one of {', '.join(self.SUBSAMPLINGS)}, "
                                  f"not {subsampling!r}")
        try:
            speed = int(speed)
        except ValueError:
            raise UserFacingError(f"avif: speed must be an integer 0..10, not {speed!r}") from None
        if not 0 <= speed <= 10:
            raise UserFacingError(f"avif: speed must be an integer 0..10, not {speed}")
        self.subsampling, self.speed = subsampling, speed
        # only non-default options: results cached for the defaults keep their identity
        self.options = {k: v for k, v in (("subsampling", subsampling), ("speed", speed))
                        if v != self.DEFAULTS[k]}

    def available(self) -> tuple[bool, str]:
        return _feature("avif")

    def settings(self) -> dict[str, Any]:
        return {"subsampling": self.subsampling, "speed": self.speed, "range": "full"}

    def version(self) -> str:
        return _feature_version("avif")

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        return pil_encode(image, "AVIF", quality=int(quality), subsampling=self.subsampling,
                          speed=self.speed, range="full")

    def decode(self, data: bytes) -> np.ndarray:
        return pil_decode(data, "AVIF")


class JPEG2000Codec(CodecAdapter):
    """OpenJPEG JPEG 2000 codestream (.j2k), 9/7 irreversible wavelet, one layer at a fixed
    compression ratio; the quality number is that ratio (24 / ratio = target bpp)."""

    name = "jpeg2000"
    extension = ".j2k"
    qualities = (12, 16, 24, 32, 48, 64, 96, 128, 192, 240)
    quality_label = "compression ratio"
    higher_is_better = False

    def available(self) -> tuple[bool, str]:
        return _feature("jpg_2000")

    def settings(self) -> dict[str, Any]:
        return {"irreversible": True, "quality_mode": "rates", "codestream": "j2k",
                "mct": 1}

    def version(self) -> str:
        return _feature_version("jpg_2000")

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        return pil_encode(image, "JPEG2000", quality_mode="rates",
                          quality_layers=[float(quality)], irreversible=True, no_jp2=True,
                          mct=1)

    def decode(self, data: bytes) -> np.ndarray:
        return pil_decode(data, "JPEG2000")


class JPEGXLCodec(CodecAdapter):
    """libjxl VarDCT through the pillow-jxl-plugin package, effort 7 (cjxl's default),
    bare codestream (no ISOBMFF container)."""

    name = "jpegxl"
    extension = ".jxl"
    qualities = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90)

    def available(self) -> tuple[bool, str]:
        try:
            import pillow_jxl  # noqa: F401  (registers the JXL plugin with Pillow)
        except ImportError as exc:
            return False, f"pillow-jxl-plugin is not installed ({exc}); pip install pillow-jxl-plugin"
        return True, ""

    def settings(self) -> dict[str, Any]:
        return {"effort": 7, "use_container": False, "lossless": False}

    def version(self) -> str:
        import PIL

        try:
            from importlib.metadata import version

            plugin = version("pillow-jxl-plugin")
        except Exception:  # noqa: BLE001 - version is informative only
            plugin = "?"
        return f"Pillow {PIL.__version__}, pillow-jxl-plugin {plugin}"

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        import pillow_jxl  # noqa: F401

        return pil_encode(image, "JXL", quality=int(quality), effort=7, use_container=False,
                          lossless=False)

    def decode(self, data: bytes) -> np.ndarray:
        import pillow_jxl  # noqa: F401

        return pil_decode(data, "JXL")
