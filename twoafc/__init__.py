"""twoafc: LPIPS-style perceptual metrics learned from two-alternative forced-choice
(2AFC) human judgments, including the shipped LPIPS-Comp.

``import twoafc`` stays light (no torch); :func:`load_metric` imports the heavy parts when
first called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .metrics import load_metric

__all__ = ["load_metric"]


def __getattr__(name: str) -> Any:
    if name == "load_metric":
        from .metrics import load_metric

        return load_metric
    raise AttributeError(f"module 'twoafc' has no attribute {name!r}")
