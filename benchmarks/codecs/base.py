"""The one interface every benchmarked codec speaks: image in, the real file's bytes out.

Rates are measured from the bytes ``encode`` returns, so an adapter must return everything
a decoder needs (headers, container, side information): nothing may be stored on the side.
"""

from __future__ import annotations

import abc
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from perceptual_codec.core.errors import UserFacingError


class CodecUnavailableError(UserFacingError):
    """The codec cannot run here (missing library, binary or weights)."""


@dataclass(frozen=True)
class RoundTrip:
    """One encode/decode of one image at one quality."""

    data: bytes
    decoded: np.ndarray
    encode_s: float
    decode_s: float

    @property
    def num_bytes(self) -> int:
        return len(self.data)

    def bpp(self) -> float:
        h, w = self.decoded.shape[:2]
        return 8.0 * len(self.data) / float(h * w)


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate an RGB uint8 HxWx3 array (the only input adapters accept)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"expected a numpy uint8 array, got {type(image).__name__}"
                        f" {getattr(image, 'dtype', '')}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image)


class CodecAdapter(abc.ABC):
    """A codec under test.

    Subclasses set ``name`` (registry key), ``extension`` (the real file's suffix, with the
    dot), ``qualities`` (the default sweep, chosen so curves overlap 0.1-2 bpp on Kodak) and
    ``quality_label`` (what the quality number means, e.g. "quality" or "qp") and
    ``higher_is_better``. Options given
    a subclass takes (recorded in ``self.options``) must be JSON-serialisable: they identify
    the configuration in caches.
    """

    name: str = ""
    extension: str = ".bin"
    qualities: tuple = ()
    quality_label: str = "quality"
    #: False where a larger quality number means a lower rate (QP, compression ratio)
    higher_is_better: bool = True

    def __init__(self, qualities: Sequence | None = None, label: str | None = None) -> None:
        if qualities is not None:
            qualities = tuple(qualities)
            if not qualities:
                raise UserFacingError(f"codec {self.name}: empty quality list")
            self.qualities = qualities
        self.label = label or self.name
        #: codec-specific constructor options (subclasses fill it); part of config_id()
        self.options: dict[str, Any] = {}

    # -- to implement ---------------------------------------------------------------
    def available(self) -> tuple[bool, str]:
        """(True, "") when the codec can run here, else (False, why not)."""
        return True, ""

    @abc.abstractmethod
    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        """Encode an RGB uint8 HxWx3 image; return the complete file's bytes."""

    @abc.abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """Decode the file's bytes back to RGB uint8 HxWx3."""

    def settings(self) -> dict[str, Any]:
        """Fixed encoder settings, written to the report so runs can be reproduced."""
        return {}

    def version(self) -> str:
        """Library/binary version string (for the report)."""
        return ""

    # -- provided -------------------------------------------------------------------
    def require(self) -> None:
        """Raise CodecUnavailableError with the reason when the codec cannot run."""
        ok, why = self.available()
        if not ok:
            raise CodecUnavailableError(f"codec {self.label}: {why}")

    def roundtrip(self, image: np.ndarray, quality: Any) -> RoundTrip:
        """Encode then decode, timing each step; checks the decode's shape."""
        image = check_image(image)
        t0 = time.perf_counter()
        data = self.encode(image, quality)
        t1 = time.perf_counter()
        decoded = self.decode(data)
        t2 = time.perf_counter()
        if not isinstance(data, bytes | bytearray) or not data:
            raise RuntimeError(f"codec {self.label}: encode returned no bytes")
        if decoded.shape != image.shape or decoded.dtype != np.uint8:
            raise RuntimeError(
                f"codec {self.label}: decoded {decoded.shape} {decoded.dtype}, "
                f"expected {image.shape} uint8")
        return RoundTrip(bytes(data), decoded, t1 - t0, t2 - t1)

    def config_id(self) -> str:
        """Short hash of everything that changes the bytes (name, settings, options)."""
        blob = json.dumps({"name": self.name, "settings": self.settings(),
                           "options": self.options, "version": self.version()},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label={self.label!r}, options={self.options!r})"
