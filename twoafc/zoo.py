"""Named models of this package (a zoo in CompressAI's style)."""

from __future__ import annotations


def list_models() -> list[dict]:
    """Rows for ``pcodec models``: name, kind, description, available."""
    return []
