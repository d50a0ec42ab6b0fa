"""Per-(image, codec, quality) cache for the downstream benchmark, so runs resume.

It reuses ``bench rd``'s cache (:class:`benchmarks.rd.cache.ResultCache`: one JSON record per
image pixels, codec ``config_id`` and quality, written atomically). A record is used only when
its metric groups hold this stage's key, a hash of the model configuration. Each downstream
stage has its own tree, so switching the detector does not throw away classifier outputs:

    <root>/det/<codec>-<config id>/<image key>/q<quality>.json   rate + COCO results
    <root>/cls/<codec>-<config id>/<image key>/q<quality>.json   rate + log-probabilities

Log-probabilities are stored as base64 float32 (exact, ~5 kB per record).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.rd.cache import ResultCache, image_key

__all__ = ["StageCache", "decode_array", "encode_array", "image_key", "metrics_key"]


def metrics_key(description: dict[str, Any]) -> str:
    """12-hex id of a model configuration (sorted-key JSON, sha256)."""
    blob = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def encode_array(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").copy()


class StageCache:
    """One stage ("det" or "cls") whose records are valid for one model configuration."""

    def __init__(self, root: str | Path, stage: str, config: dict[str, Any]) -> None:
        self.stage = stage
        self.key = metrics_key({"stage": stage, **config})
        self._cache = ResultCache(Path(root) / stage)

    def get(self, codec_dir: str, image: str, quality: Any) -> dict | None:
        """The record, or None when missing, damaged or made by another configuration."""
        rec = self._cache.get(codec_dir, image, quality)
        if rec is None:
            return None
        # The rd cache lists the metric groups a record holds in "_groups"; records written
        # by its first layout carry a single "_metrics" key instead.
        if self.key in rec.get("_groups", ()) or rec.get("_metrics") == self.key:
            return rec
        return None

    def has(self, codec_dir: str, image: str, quality: Any) -> bool:
        return self.get(codec_dir, image, quality) is not None

    def put(self, codec_dir: str, image: str, quality: Any, record: dict) -> None:
        self._cache.put(codec_dir, image, quality, [self.key], record)

    @staticmethod
    def codec_dir(label: str, config_id: str) -> str:
        return ResultCache.codec_dir(label, config_id)
