"""Eye-fixation data sets on disk: layouts, the split by image, and samples at the working size.

A data set is a folder of stimuli with, for each image, a continuous fixation density map
and (optionally) a binary map of fixated pixels, matched by file name. Layouts found
automatically:

- NUS Scene / this project's shared layout: ``stimuli/``, ``fixation_maps/``, ``fixation_points/``
- MIT1003: ``ALLSTIMULI/``, ``ALLFIXATIONMAPS/`` holding ``NAME_fixMap.jpg`` and ``NAME_fixPts.jpg``
- SALICON-style: ``images/``, ``maps/`` and optionally ``points/`` (subfolders such as
  ``train/`` and ``val/`` are kept in the image key)

Fixation data are recorded in the stored pixel grid of each file, so images are read
without EXIF rotation here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from perceptual_codec.core.errors import UserFacingError
from saliency.net import working_size

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
_IMAGE_DIRS = ("stimuli", "images", "ALLSTIMULI", "Stimuli")
_MAP_DIRS = ("fixation_maps", "maps", "ALLFIXATIONMAPS", "FIXATIONMAPS")
_POINT_DIRS = ("fixation_points", "points", "fixations", "ALLFIXATIONMAPS", "FIXATIONMAPS")
_MIT_DIRS = ("ALLFIXATIONMAPS", "FIXATIONMAPS")
_MIT_MAP_SUFFIX = "_fixMap"
_MIT_POINT_SUFFIX = "_fixPts"


class SaliencyDataError(UserFacingError):
    """A fixation data folder is missing, empty or not in a known layout."""


@dataclass(frozen=True)
class FixationRecord:
    """One stimulus and its fixation files; ``key`` is its path below the image folder,
    without extension (e.g. ``"001"`` or ``"train/COCO_train2014_000000000009"``)."""

    key: str
    image: Path
    density: Path
    points: Path | None


def _index(folder: Path, suffix: str | None = None) -> dict[str, Path]:
    """Image files below ``folder`` by key; with ``suffix`` (MIT1003's ``_fixMap``), only
    files whose stem ends with it, keyed without it."""
    out: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_EXTS or not path.is_file():
            continue
        key = path.relative_to(folder).with_suffix("").as_posix()
        if suffix is not None:
            if not key.endswith(suffix):
                continue
            key = key[: -len(suffix)]
        out[key] = path
    return out


def _first_dir(root: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def discover(root: str | Path) -> list[FixationRecord]:
    """All (image, density map, points) triples under ``root``, sorted by key."""
    root = Path(root)
    if not root.is_dir():
        raise SaliencyDataError(f"fixation data folder not found: {root}")
    image_dir = _first_dir(root, _IMAGE_DIRS)
    map_dir = _first_dir(root, _MAP_DIRS)
    if image_dir is None or map_dir is None:
        raise SaliencyDataError(
            f"{root} is not a fixation data set: expected an image folder ({', '.join(_IMAGE_DIRS)})"
            f" and a fixation-map folder ({', '.join(_MAP_DIRS)}) inside it"
        )
    images = _index(image_dir)
    mit_style = map_dir.name in _MIT_DIRS
    maps = _index(map_dir, _MIT_MAP_SUFFIX if mit_style else None)
    point_dir = _first_dir(root, _POINT_DIRS)
    points: dict[str, Path] = {}
    if point_dir is not None:
        points = _index(point_dir, _MIT_POINT_SUFFIX if point_dir.name in _MIT_DIRS else None)
    records = [
        FixationRecord(key, images[key], maps[key], points.get(key))
        for key in sorted(images)
        if key in maps
    ]
    if not records:
        raise SaliencyDataError(
            f"no image in {image_dir} has a fixation map of the same name in {map_dir}"
        )
    return records


def split_by_image(
    keys: Sequence[str], test_size: int = 40, val_size: int = 16, seed: int = 0
) -> dict[str, list[str]]:
    """A fixed-seed split of image keys into train / val / test (each sorted).

    Deterministic for a given set of keys, so training and evaluation agree without a file.
    """
    keys = sorted(keys)
    if test_size + val_size >= len(keys):
        raise SaliencyDataError(
            f"cannot hold out {test_size} test and {val_size} validation images from {len(keys)}"
        )
    order = np.random.default_rng(seed).permutation(len(keys))
    test = sorted(keys[i] for i in order[:test_size])
    val = sorted(keys[i] for i in order[test_size : test_size + val_size])
    train = sorted(keys[i] for i in order[test_size + val_size :])
    return {"train": train, "val": val, "test": test}


def load_split_file(path: str | Path) -> dict[str, list[str]]:
    """Read a JSON split ``{"train": [...], "val": [...], "test": [...]}`` of image keys."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SaliencyDataError(f"cannot read split file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise SaliencyDataError(f"split file {path} must map split names to lists of keys")
    return {k: [str(x) for x in v] for k, v in data.items()}


def read_stimulus(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 (H,W,3) in stored orientation, resized to ``size`` = (h, w) if given."""
    with Image.open(path) as im:
        if size is not None and im.format == "JPEG":
            im.draft("RGB", (size[1] * 2, size[0] * 2))  # fast DCT-domain downscale
        im = im.convert("RGB")
        if size is not None:
            im = im.resize((size[1], size[0]), Image.BICUBIC, reducing_gap=2.0)
        return np.asarray(im, dtype=np.uint8).copy()


def read_density(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Fixation density map as float32 (H,W), scaled to a maximum of 1."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("F") if im.mode not in ("I;16", "I") else im, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    if size is not None:
        arr = np.asarray(
            Image.fromarray(arr).resize((size[1], size[0]), Image.BILINEAR, reducing_gap=2.0),
            dtype=np.float32,
        )
    peak = float(arr.max())
    return arr / peak if peak > 0 else arr


def read_fixation_points(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """Fixated pixels as an (K,2) int array of (row, col), and the map's (H, W)."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"))
    rows, cols = np.nonzero(arr > 127)  # > 127: robust to JPEG-compressed point maps
    return np.stack([rows, cols], axis=1), arr.shape


def points_to_map(points: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Binary (dst) map with the fixations of a ``src``-sized grid moved to ``dst``."""
    out = np.zeros(dst, dtype=np.float32)
    if len(points):
        r = np.clip(((points[:, 0] + 0.5) * dst[0] / src[0]).astype(int), 0, dst[0] - 1)
        c = np.clip(((points[:, 1] + 0.5) * dst[1] / src[1]).astype(int), 0, dst[1] - 1)
        out[r, c] = 1.0
    return out


class FixationDataset(torch.utils.data.Dataset):
    """Samples at the network's working size: ``{"image": (3,h,w) float in [0,1],
    "density": (1,h,w), "fixations": (1,h,w) 0/1, "key": str, "flipped": bool}``.

    The working size keeps each image's aspect ratio at about ``area`` pixels
    (:func:`saliency.net.working_size`); batches are formed per size by :class:`SizeBatchSampler`.
    Decoded samples are cached in memory (large JPEGs are slow to decode every epoch).
    """

    def __init__(self, records: Sequence[FixationRecord], area: int = 192 * 256, hflip: bool = False):
        self.records = list(records)
        self.area = area
        self.hflip = hflip
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.sizes = [self._size_of(r) for r in self.records]

    def _size_of(self, record: FixationRecord) -> tuple[int, int]:
        with Image.open(record.image) as im:
            w, h = im.size
        return working_size(h, w, self.area)

    def __len__(self) -> int:
        return len(self.records)

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if index not in self._cache:
            rec = self.records[index]
            size = self.sizes[index]
            image = read_stimulus(rec.image, size)
            density = read_density(rec.density, size)
            if rec.points is not None:
                pts, src = read_fixation_points(rec.points)
                fix = points_to_map(pts, src, size)
            else:
                fix = np.zeros(size, dtype=np.float32)
            self._cache[index] = (image, density, fix)
        return self._cache[index]

    def __getitem__(self, index: int) -> dict:
        image, density, fix = self._load(index)
        x = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
        d = torch.from_numpy(density)[None]
        f = torch.from_numpy(fix)[None]
        flipped = bool(self.hflip and torch.rand(()) < 0.5)
        if flipped:
            x, d, f = x.flip(-1), d.flip(-1), f.flip(-1)
        return {"image": x, "density": d, "fixations": f, "key": self.records[index].key,
                "flipped": flipped}


class SizeBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of indices whose samples share one working size (so they stack)."""

    def __init__(self, sizes: Sequence[tuple[int, int]], batch_size: int, shuffle: bool):
        self.batch_size = batch_size
        self.shuffle = shuffle
        groups: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(sizes):
            groups.setdefault(tuple(s), []).append(i)
        self.groups = list(groups.values())

    def _batches(self) -> list[list[int]]:
        batches = []
        for group in self.groups:
            idx = torch.tensor(group)
            if self.shuffle:
                idx = idx[torch.randperm(len(idx))]
            batches += [idx[i : i + self.batch_size].tolist() for i in range(0, len(idx), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches)).tolist()]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return sum((len(g) + self.batch_size - 1) // self.batch_size for g in self.groups)
