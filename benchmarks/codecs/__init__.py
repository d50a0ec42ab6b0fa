"""Codec adapters for the benchmarks, by name.

    >>> codec = get_codec("jpeg")
    >>> data = codec.encode(image, 75)            # the real .jpg file's bytes
    >>> decoded = codec.decode(data)              # uint8 HxWx3

On the command line a codec is a spec ``NAME[:KEY=VALUE[:KEY=VALUE...]]``, for example
``jpeg:qualities=10,30,50``, ``pcodec:model=hyperprior-mse`` or
``compressai-ckpt:arch=mbt2018-mean:ckpt=q1.pth,q2.pth,q3.pth:label=mine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.codecs.base import CodecAdapter, CodecUnavailableError, RoundTrip
from benchmarks.codecs.compressai_ckpt import CompressAICheckpointCodec
from benchmarks.codecs.hevc import HEVCCodec
from benchmarks.codecs.pillow import AVIFCodec, JPEG2000Codec, JPEGCodec, JPEGXLCodec, WebPCodec
from benchmarks.codecs.project import ProjectCodec, SandwichAVIFCodec, SandwichJPEGCodec
from perceptual_codec.core.errors import UserFacingError

__all__ = [
    "CodecAdapter", "CodecUnavailableError", "RoundTrip", "get_codec", "list_codecs",
    "parse_codec_spec", "register_codec", "STANDARD_CODECS",
]

_REGISTRY: dict[str, Callable[..., CodecAdapter]] = {}

#: the codecs ``pcodec bench rd`` runs when none are named
STANDARD_CODECS = ("jpeg", "webp", "avif", "jpeg2000", "jpegxl", "hevc")


def register_codec(name: str, factory: Callable[..., CodecAdapter]) -> None:
    """Add a codec (a CodecAdapter subclass or any callable returning one)."""
    _REGISTRY[name] = factory


for _cls in (JPEGCodec, WebPCodec, AVIFCodec, JPEG2000Codec, JPEGXLCodec, HEVCCodec,
             ProjectCodec, SandwichJPEGCodec, SandwichAVIFCodec, CompressAICheckpointCodec):
    register_codec(_cls.name, _cls)


def list_codecs() -> list[str]:
    """Names of every registered codec (available here or not)."""
    return list(_REGISTRY)


def get_codec(name: str, **opts: Any) -> CodecAdapter:
    """Instantiate a codec by name; ``opts`` go to its constructor (``qualities``,
    ``label`` and codec-specific options such as ``model`` or ``ckpt``)."""
    if name not in _REGISTRY:
        raise UserFacingError(f"unknown codec {name!r}; choose from {', '.join(_REGISTRY)}")
    try:
        return _REGISTRY[name](**opts)
    except TypeError as exc:
        raise UserFacingError(f"codec {name}: bad option ({exc})") from exc


def _parse_value(key: str, value: str) -> Any:
    if key == "qualities":
        out = []
        for v in value.split(","):
            v = v.strip()
            if not v:
                continue
            try:
                out.append(int(v))
            except ValueError:
                try:
                    out.append(float(v))
                except ValueError as exc:
                    raise UserFacingError(f"quality {v!r} is not a number") from exc
        return out
    return value


def parse_codec_spec(spec: str) -> CodecAdapter:
    """``NAME[:KEY=VALUE...]`` -> adapter (see the module docstring)."""
    name, *pairs = spec.strip().split(":")
    opts: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserFacingError(f"codec spec {spec!r}: expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        opts[key.strip().replace("-", "_")] = _parse_value(key.strip(), value.strip())
    return get_codec(name, **opts)
