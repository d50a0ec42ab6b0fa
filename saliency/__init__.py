"""saliency: where people look. Learned and classic saliency models behind one interface.

``saliency.load_model(name_or_path)`` returns a model with ``predict(image) -> (H, W)``
float32 map in [0, 1] and ``predict_batch(x: (N,3,H,W)) -> (N,1,H,W)``; see
:mod:`saliency.zoo` for the names. Importing the package is cheap: torch and the models
load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_model", "load_user_map", "list_models"]

_LAZY = {
    "load_model": "saliency.zoo",
    "list_models": "saliency.zoo",
    "load_user_map": "saliency.user_map",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'saliency' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
