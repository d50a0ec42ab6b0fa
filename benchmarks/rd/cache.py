"""Results cached per (image, codec, quality), one small JSON file each, written atomically,
so an interrupted run resumes where it stopped and a finished one reruns for free.

A record is reused only when everything that produced it matches: the image's pixels (a
hash, in the path), the codec's configuration (:meth:`CodecAdapter.config_id`, in the path)
and, per group of metrics, the models behind them (``MetricSuite.groups``: name + weights
fingerprint). The encoded file is kept next to its record, so when only the metric set
changed (say LPIPS-Comp weights appeared) the point is re-scored from the stored file without
encoding again.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from perceptual_codec.core.atomic import atomic_write_bytes, atomic_write_text

CACHE_VERSION = 1


def image_key(path: Path, pixels: np.ndarray) -> str:
    """Stable id of an image: file stem + 10 hex of the pixel hash (renames keep the stem)."""
    digest = hashlib.sha256(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()[:10]
    return f"{_safe(path.stem)}-{digest}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)[:80] or "_"


class ResultCache:
    """Directory of records: ``ROOT/<codec label>-<config id>/<image key>/q<quality>.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _dir(self, codec_dir: str, image: str) -> Path:
        return self.root / codec_dir / image

    @staticmethod
    def codec_dir(label: str, config_id: str) -> str:
        return f"{_safe(label)}-{config_id}"

    def path(self, codec_dir: str, image: str, quality: Any) -> Path:
        return self._dir(codec_dir, image) / f"q{_safe(str(quality))}.json"

    def get(self, codec_dir: str, image: str, quality: Any) -> dict | None:
        """The cached record, or None when missing, unreadable or of another cache version."""
        p = self.path(codec_dir, image, quality)
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("_cache_version") != CACHE_VERSION:
            return None
        return rec

    def file_path(self, codec_dir: str, image: str, quality: Any, extension: str) -> Path:
        return self._dir(codec_dir, image) / f"q{_safe(str(quality))}{extension}"

    def put(self, codec_dir: str, image: str, quality: Any, groups: list[str], record: dict,
            data: bytes | None = None, extension: str = "") -> Path:
        """Store a record (and the real encoded file next to it), file first: a record
        never points at a file that is not there."""
        d = self._dir(codec_dir, image)
        d.mkdir(parents=True, exist_ok=True)
        if data is not None:
            atomic_write_bytes(self.file_path(codec_dir, image, quality, extension), data)
        rec = {**record, "_cache_version": CACHE_VERSION, "_groups": sorted(groups)}
        p = self.path(codec_dir, image, quality)
        atomic_write_text(p, json.dumps(rec, sort_keys=True, allow_nan=True))
        return p

    def saliency_path(self, image: str, model: str, fraction: float) -> Path:
        return self.root / "_saliency" / f"{image}-{_safe(model)}-top{fraction:g}.npy"
