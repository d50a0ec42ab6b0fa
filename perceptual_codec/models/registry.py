"""A tiny architecture registry in CompressAI's style: ``name -> class``.

Architectures register themselves with :func:`register_model`; the zoo maps a shipped
model name to ``(architecture, constructor kwargs, weights)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from compressai.models import CompressionModel

T = TypeVar("T", bound=type[CompressionModel])

ARCHITECTURES: dict[str, type[CompressionModel]] = {}


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator that records an architecture under ``name``."""

    def decorator(cls: T) -> T:
        if name in ARCHITECTURES and ARCHITECTURES[name] is not cls:
            raise ValueError(f"architecture {name!r} is already registered")
        ARCHITECTURES[name] = cls
        cls.architecture = name  # type: ignore[attr-defined]
        return cls

    return decorator


def build_model(name: str, **kwargs) -> CompressionModel:
    """Instantiate a registered architecture by name."""
    try:
        cls = ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES)) or "none"
        raise KeyError(f"unknown architecture {name!r} (known: {known})") from None
    return cls(**kwargs)
