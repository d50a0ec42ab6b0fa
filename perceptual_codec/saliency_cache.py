"""Learned saliency maps of training images, computed once and kept on disk.

Training the codec on the learned model's maps (the maps ``--saliency auto`` uses at encode
time) needs one saliency forward pass per image; doing it per crop in the training loop would
cost as much as the codec step on a CPU. Maps depend only on the whole image, so they are
computed once per file, before training, and each crop is cut from the stored map.

A map is stored as ``uint8`` ``.npy`` (1/255 steps, ample for a loss weight) under a key of
the file's resolved path, size and mtime plus the saliency weights' digest, so an edited image
or a retrained model never reuses a stale map.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from perceptual_codec.core.atomic import atomic_write_bytes
from perceptual_codec.core.errors import UserFacingError
from perceptual_codec.zoo import state_digest


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/perceptual_codec/saliency_maps`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "perceptual_codec" / "saliency_maps"


def map_path(cache_dir: Path, image: Path, digest: str) -> Path:
    st = image.stat()
    key = f"{image.resolve()}|{st.st_size}|{st.st_mtime_ns}|{digest}"
    return cache_dir / digest / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"


def load_map(path: Path) -> np.ndarray:
    """A stored map -> ``HxW`` float32 in [0, 1]."""
    return np.load(path, allow_pickle=False).astype(np.float32) / 255.0


def precompute_maps(
    files: Sequence[Path],
    cache_dir: str | os.PathLike[str] | None = None,
    model: str = "saliency",
    progress: bool = True,
) -> list[Path]:
    """Learned saliency map of every file (computed where missing); returns their paths.

    ``model`` is a :func:`saliency.load_model` name or weights path.
    """
    import saliency as saliency_pkg
    from perceptual_codec.data import load_rgb

    try:
        net = saliency_pkg.load_model(model)
    except (UserFacingError, FileNotFoundError, KeyError, ValueError) as exc:
        raise UserFacingError(f"saliency='learned' needs the saliency model {model!r}: {exc}") from exc
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    digest = state_digest(net).hex()
    paths = [map_path(root, Path(f), digest) for f in files]
    todo = [(f, p) for f, p in zip(files, paths, strict=True) if not p.is_file()]
    for f, p in tqdm(todo, desc="saliency maps", disable=not progress or not todo):
        img = load_rgb(Path(f))
        sal = np.asarray(net.predict(img), np.float32)
        if sal.shape != img.shape[:2]:
            raise UserFacingError(f"saliency model returned {sal.shape} for {f} ({img.shape[:2]})")
        q = np.clip(np.rint(sal * 255.0), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        np.save(buf, q, allow_pickle=False)
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(p, buf.getvalue())
    return paths
