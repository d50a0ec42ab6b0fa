"""2AFC data sets: each item is a :class:`Triplet` ``(ref, p0, p1, judge)``.

``judge`` follows the BAPPS convention: the fraction of people who preferred ``p1`` (found it
closer to ``ref``). Images are float tensors (3, H, W) in [0, 1]. Every data set keeps its
items as :class:`TripletRecord` rows (paths, judge, ``group`` = the reference image it belongs
to), so splits by reference and per-reference tables need no image decoding.

Loaders:
- :class:`BAPPS2AFC`: the BAPPS folder layout ``ref/ p0/ p1/`` images and ``judge/`` ``.npy``.
- :class:`BAPPSJND`: the JND layout ``p0/ p1/`` images and ``same/`` ``.npy`` (items are
  :class:`JNDPair`).
- :class:`TripletTable`: a CSV or JSONL of ``ref,p0,p1,judge`` (paths relative to the file).
- :class:`MOSPairs`: every pair of distorted versions of one reference from an image-quality
  table with MOS/DMOS, judged by Thurstone Case V or by per-observer ratings
  (see :mod:`twoafc.thurstone`).
- :class:`ConcatTwoAFC`: several of the above as one training set.

All loaders check their input up front and raise :class:`TwoAFCDataError` naming the file
(and row) that is wrong.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from perceptual_codec.core.errors import UserFacingError

from .thurstone import observer_share, pooled_sigma, thurstone_prob

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class TwoAFCDataError(UserFacingError, ValueError):
    """A 2AFC data set is missing files, has a malformed row or an impossible value."""


class Triplet(NamedTuple):
    ref: torch.Tensor
    p0: torch.Tensor
    p1: torch.Tensor
    judge: torch.Tensor


class JNDPair(NamedTuple):
    p0: torch.Tensor
    p1: torch.Tensor
    same: torch.Tensor


@dataclass(frozen=True)
class TripletRecord:
    ref: Path
    p0: Path
    p1: Path
    judge: float
    group: str


# --------------------------------------------------------------------------- image loading


class Preprocess:
    """Deterministic decoding shared by all loaders, with an optional in-memory cache.

    - Distorted images whose size differs from their reference are resized to it with
      Pillow's bicubic filter (``mismatch="bicubic"``) or rejected (``mismatch="error"``).
      This is how an FR metric is applied to downscaled-then-coded images, as the authors
      of the AVT data set did with ffmpeg bicubic.
    - ``scale`` then resizes every image by the same factor (Pillow bicubic, which
      antialiases when shrinking) to keep CPU time reasonable on large images.
    - ``center_crop`` then keeps the central square of that side (same window in every image
      of a triplet, since they share a size), to score large images at a fraction of the cost.
    - Results are rounded back to 8 bits (like a saved PNG) and cached when ``cache=True``.
    """

    def __init__(
        self,
        scale: float = 1.0,
        center_crop: int | None = None,
        mismatch: str = "bicubic",
        cache: bool = False,
        max_pixels: int = 64_000_000,
    ) -> None:
        if not (0 < scale <= 1.0):
            raise TwoAFCDataError(f"scale must be in (0, 1], got {scale}")
        if mismatch not in ("bicubic", "error"):
            raise TwoAFCDataError(f"mismatch must be 'bicubic' or 'error', got {mismatch!r}")
        if center_crop is not None and center_crop < 1:
            raise TwoAFCDataError(f"center_crop must be a positive size, got {center_crop}")
        self.scale = scale
        self.center_crop = center_crop
        self.mismatch = mismatch
        self.cache = cache
        self.max_pixels = max_pixels
        self._cache: dict[tuple[str, tuple[int, int] | None], torch.Tensor] = {}

    def size_of(self, path: Path) -> tuple[int, int]:
        """(width, height) of the upright image, from the file header only."""
        from perceptual_codec.core.io import image_size

        return image_size(path)

    def load(self, path: Path, like: Path | None = None) -> torch.Tensor:
        """Image at ``path`` as float (3, H, W), resized to ``like``'s size if they differ."""
        target = self.size_of(like) if like is not None else None
        key = (str(path), target)
        hit = self._cache.get(key)
        if hit is not None:
            return hit.float().div_(255.0)
        from PIL import Image

        from perceptual_codec.core.io import load_image_array

        array = load_image_array(path, max_pixels=self.max_pixels)
        image = Image.fromarray(array)
        if target is not None and image.size != target:
            if self.mismatch == "error":
                raise TwoAFCDataError(
                    f"{path} is {image.size[0]}x{image.size[1]} but its reference {like} is "
                    f"{target[0]}x{target[1]} (allow resizing with mismatch='bicubic')"
                )
            image = image.resize(target, Image.Resampling.BICUBIC)
        if self.scale != 1.0:
            w, h = image.size
            size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
            image = image.resize(size, Image.Resampling.BICUBIC)
        if self.center_crop is not None:
            w, h = image.size
            c = self.center_crop
            if c > min(w, h):
                raise TwoAFCDataError(
                    f"center_crop {c} is larger than {path} ({w}x{h} after scaling)"
                )
            left, top = (w - c) // 2, (h - c) // 2
            image = image.crop((left, top, left + c, top + c))
        tensor = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()
        if self.cache:
            self._cache[key] = tensor
        return tensor.float().div_(255.0)


def _check_file(path: Path, where: str) -> Path:
    if not path.is_file():
        raise TwoAFCDataError(f"{where}: image file {path} does not exist")
    return path


def _parse_judge(value: object, where: str, name: str = "judge") -> float:
    try:
        judge = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TwoAFCDataError(f"{where}: {name} {value!r} is not a number") from None
    if not math.isfinite(judge) or not 0.0 <= judge <= 1.0:
        raise TwoAFCDataError(f"{where}: {name} {judge} is outside [0, 1]")
    return judge


# --------------------------------------------------------------------------- base data set


class TwoAFCDataset(Dataset):
    """Triplets from a list of records; subclasses only build the records."""

    def __init__(self, records: Sequence[TripletRecord], preprocess: Preprocess | None = None):
        if not records:
            raise TwoAFCDataError("the data set has no triplets")
        self.records = list(records)
        self.preprocess = preprocess or Preprocess()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Triplet:
        r = self.records[index]
        return Triplet(
            self.preprocess.load(r.ref),
            self.preprocess.load(r.p0, like=r.ref),
            self.preprocess.load(r.p1, like=r.ref),
            torch.tensor(r.judge, dtype=torch.float32),
        )

    @property
    def groups(self) -> list[str]:
        """Reference id of each triplet (for splits by reference and per-reference tables)."""
        return [r.group for r in self.records]

    def subset(self, indices: Iterable[int]) -> TwoAFCDataset:
        """A view on some triplets that shares this data set's decoding cache."""
        return TwoAFCDataset([self.records[i] for i in indices], self.preprocess)

    def filter_groups(self, keep: Iterable[str], exclude: bool = False) -> TwoAFCDataset:
        keep = set(keep)
        unknown = keep - set(self.groups)
        if unknown:
            raise TwoAFCDataError(
                f"unknown reference(s) {sorted(unknown)}; the data has {sorted(set(self.groups))}"
            )
        idx = [i for i, g in enumerate(self.groups) if (g in keep) != exclude]
        return self.subset(idx)


# --------------------------------------------------------------------------- BAPPS


def _stems(folder: Path, suffixes: Sequence[str]) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes}


def _bapps_roots(root: Path, required: Sequence[str]) -> list[Path]:
    """``root`` itself if it has the layout, else every sub-folder (recursively) that has it."""
    if not root.is_dir():
        raise TwoAFCDataError(f"{root} is not a directory")
    if all((root / d).is_dir() for d in required):
        return [root]
    found = sorted(
        {p.parent for p in root.rglob(required[0]) if p.is_dir()
         and all((p.parent / d).is_dir() for d in required)}
    )
    if not found:
        raise TwoAFCDataError(
            f"{root} has no {'/ '.join(required)}/ folders (BAPPS layout), nor any sub-folder with them"
        )
    return found


def _load_npy_scalar(path: Path, name: str) -> float:
    try:
        value = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise TwoAFCDataError(f"cannot read {path}: {exc}") from exc
    if value.size != 1:
        raise TwoAFCDataError(f"{path}: expected one {name} value, found shape {value.shape}")
    return _parse_judge(value.reshape(-1)[0], str(path), name)


class BAPPS2AFC(TwoAFCDataset):
    """BAPPS 2AFC layout: ``ref/ p0/ p1/`` images and ``judge/*.npy`` with matching names.

    ``root`` may be one such folder or a tree holding several (e.g. ``2afc/val``).
    """

    def __init__(self, root: str | os.PathLike, preprocess: Preprocess | None = None):
        records: list[TripletRecord] = []
        base = Path(root)
        for folder in _bapps_roots(base, ("ref", "p0", "p1", "judge")):
            ref = _stems(folder / "ref", IMAGE_SUFFIXES)
            p0 = _stems(folder / "p0", IMAGE_SUFFIXES)
            p1 = _stems(folder / "p1", IMAGE_SUFFIXES)
            judge = _stems(folder / "judge", (".npy",))
            for name, table in (("p0", p0), ("p1", p1), ("judge", judge)):
                missing = sorted(set(ref) - set(table))
                if missing:
                    raise TwoAFCDataError(
                        f"{folder}: {len(missing)} triplet(s) have no {name} file, e.g. "
                        f"{folder / 'ref' / ref[missing[0]].name} has no {folder / name}/{missing[0]}.*"
                    )
            extra = sorted(set(judge) - set(ref))
            if extra:
                raise TwoAFCDataError(f"{folder}: judge/{extra[0]}.npy has no ref/{extra[0]} image")
            rel = folder.relative_to(base) if folder != base else Path(".")
            for stem in sorted(ref):
                records.append(
                    TripletRecord(
                        ref[stem], p0[stem], p1[stem],
                        _load_npy_scalar(judge[stem], "judge"), f"{rel.as_posix()}/{stem}",
                    )
                )
        super().__init__(records, preprocess)


class BAPPSJND(Dataset):
    """BAPPS JND layout: ``p0/ p1/`` images and ``same/*.npy`` (fraction who saw no difference)."""

    def __init__(self, root: str | os.PathLike, preprocess: Preprocess | None = None):
        self.pairs: list[tuple[Path, Path, float]] = []
        for folder in _bapps_roots(Path(root), ("p0", "p1", "same")):
            p0 = _stems(folder / "p0", IMAGE_SUFFIXES)
            p1 = _stems(folder / "p1", IMAGE_SUFFIXES)
            same = _stems(folder / "same", (".npy",))
            for name, table in (("p1", p1), ("same", same)):
                missing = sorted(set(p0) - set(table))
                if missing:
                    raise TwoAFCDataError(
                        f"{folder}: p0/{p0[missing[0]].name} has no {name}/{missing[0]}.* file"
                        f" ({len(missing)} missing in all)"
                    )
            for stem in sorted(p0):
                self.pairs.append((p0[stem], p1[stem], _load_npy_scalar(same[stem], "same")))
        if not self.pairs:
            raise TwoAFCDataError(f"{root}: no JND pairs found")
        self.preprocess = preprocess or Preprocess(mismatch="error")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> JNDPair:
        a, b, same = self.pairs[index]
        return JNDPair(
            self.preprocess.load(a), self.preprocess.load(b, like=a),
            torch.tensor(same, dtype=torch.float32),
        )


# --------------------------------------------------------------------------- CSV / JSONL


class TripletTable(TwoAFCDataset):
    """A CSV (header row) or JSONL file of triplets with fields ``ref, p0, p1, judge``.

    Paths are relative to the table's folder (or absolute). An optional ``group`` field names
    the reference for splits; it defaults to the ``ref`` path.
    """

    FIELDS = ("ref", "p0", "p1", "judge")

    def __init__(self, path: str | os.PathLike, preprocess: Preprocess | None = None):
        path = Path(path)
        if not path.is_file():
            raise TwoAFCDataError(f"triplet table {path} does not exist")
        rows = list(_read_rows(path))
        if not rows:
            raise TwoAFCDataError(f"{path}: no triplets (empty table)")
        base = path.parent
        records = []
        for where, row in rows:
            missing = [f for f in self.FIELDS if f not in row or row[f] in (None, "")]
            if missing:
                raise TwoAFCDataError(f"{where}: missing field(s) {', '.join(missing)}")
            files = {f: _check_file(base / str(row[f]), where) for f in ("ref", "p0", "p1")}
            judge = _parse_judge(row["judge"], where)
            group = str(row.get("group") or row["ref"])
            records.append(TripletRecord(files["ref"], files["p0"], files["p1"], judge, group))
        super().__init__(records, preprocess)


def _read_rows(path: Path) -> Iterable[tuple[str, dict]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TwoAFCDataError(f"{path} line {n}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise TwoAFCDataError(f"{path} line {n}: expected a JSON object")
                yield f"{path} line {n}", row
        return
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            return
        absent = [c for c in TripletTable.FIELDS if c not in reader.fieldnames]
        if absent:
            raise TwoAFCDataError(
                f"{path}: header lacks column(s) {', '.join(absent)} (found {', '.join(reader.fieldnames)})"
            )
        for n, row in enumerate(reader, start=2):  # row 1 is the header
            yield f"{path} row {n}", row


# --------------------------------------------------------------------------- MOS-derived pairs


class MOSPairs(TwoAFCDataset):
    """Every pair of distorted versions of the same reference, judged from quality scores.

    ``scores`` is a CSV with one row per distorted image (columns named by ``ref_column``,
    ``dist_column``, ``score_column`` and optionally ``distortion_column``). Paths are
    relative to ``root`` (default: the CSV's folder). ``higher_is_better`` is True for MOS,
    False for DMOS.

    Judge (the share preferring ``p1``):
    - ``judge="thurstone"``: Thurstone Case V on the score difference,
      ``Phi((q1 - q0) / (sigma * sqrt 2))``. ``sigma`` is given, or estimated from ``ratings``.
    - ``judge="observers"``: share of observers whose own rating of ``p1`` beat ``p0`` (ties
      0.5); needs ``ratings``.

    ``ratings`` is a wide CSV: a key column (``ratings_key``) matching the distorted file's
    name with or without suffix, and one column per observer whose names start with
    ``observer_prefix``. ``distortions`` keeps only those distortion types.
    """

    def __init__(
        self,
        scores: str | os.PathLike,
        root: str | os.PathLike | None = None,
        judge: str = "thurstone",
        sigma: float | None = None,
        ratings: str | os.PathLike | None = None,
        ratings_key: str = "image_name",
        observer_prefix: str = "user",
        higher_is_better: bool = True,
        distortions: Sequence[str] | None = None,
        ref_column: str = "ref",
        dist_column: str = "dist",
        score_column: str = "score",
        distortion_column: str = "distortion",
        preprocess: Preprocess | None = None,
    ):
        scores = Path(scores)
        if not scores.is_file():
            raise TwoAFCDataError(f"score table {scores} does not exist")
        if judge not in ("thurstone", "observers"):
            raise TwoAFCDataError(f"judge must be 'thurstone' or 'observers', got {judge!r}")
        base = Path(root) if root is not None else scores.parent
        rows = self._read_scores(
            scores, base, ref_column, dist_column, score_column, distortion_column, distortions
        )
        per_observer = (
            self._read_ratings(Path(ratings), ratings_key, observer_prefix, rows)
            if ratings is not None
            else None
        )
        if judge == "observers" and per_observer is None:
            raise TwoAFCDataError(
                "judge='observers' needs per-observer ratings (ratings=..., CLI --ratings)"
            )
        if judge == "thurstone" and sigma is None:
            if per_observer is None:
                raise TwoAFCDataError(
                    "the Thurstone judge needs the observer spread: give sigma (CLI --sigma) or "
                    "per-observer ratings (CLI --ratings)"
                )
            sigma = pooled_sigma(per_observer.values())
        self.sigma = sigma
        sign = 1.0 if higher_is_better else -1.0

        by_ref: dict[Path, list[tuple[Path, float]]] = {}
        for ref, dist, score in rows:
            by_ref.setdefault(ref, []).append((dist, score))
        records: list[TripletRecord] = []
        for ref, items in by_ref.items():
            for (d0, s0), (d1, s1) in itertools.combinations(items, 2):
                if judge == "observers":
                    value, n = observer_share(per_observer[d0], per_observer[d1])
                    if n == 0:
                        raise TwoAFCDataError(
                            f"{ratings}: no observer rated both {d0.name} and {d1.name}"
                        )
                else:
                    value = float(thurstone_prob(sign * s0, sign * s1, sigma))
                records.append(TripletRecord(ref, d0, d1, value, ref.stem))
        if not records:
            raise TwoAFCDataError(
                f"{scores}: no reference has two or more distorted versions"
                + (f" of distortion(s) {list(distortions)}" if distortions else "")
            )
        super().__init__(records, preprocess)

    @staticmethod
    def _read_scores(scores, base, ref_c, dist_c, score_c, type_c, distortions):
        with open(scores, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            absent = [c for c in (ref_c, dist_c, score_c) if c not in header]
            if distortions and type_c not in header:
                absent.append(type_c)
            if absent:
                raise TwoAFCDataError(
                    f"{scores}: header lacks column(s) {', '.join(absent)} (found {', '.join(header)})"
                )
            keep = set(distortions) if distortions else None
            seen_types: set[str] = set()
            rows = []
            for n, row in enumerate(reader, start=2):
                where = f"{scores} row {n}"
                kind = row.get(type_c, "")
                seen_types.add(kind)
                if keep is not None and kind not in keep:
                    continue
                try:
                    score = float(row[score_c])
                except (TypeError, ValueError):
                    raise TwoAFCDataError(f"{where}: score {row[score_c]!r} is not a number") from None
                if not math.isfinite(score):
                    raise TwoAFCDataError(f"{where}: score {score} is not finite")
                ref = _check_file(base / row[ref_c], where)
                dist = _check_file(base / row[dist_c], where)
                rows.append((ref, dist, score))
        if keep is not None and not keep & seen_types:
            raise TwoAFCDataError(
                f"{scores}: none of the distortion types {sorted(keep)} occur "
                f"(the table has {sorted(seen_types)})"
            )
        return rows

    @staticmethod
    def _read_ratings(path: Path, key: str, prefix: str, rows) -> dict[Path, np.ndarray]:
        if not path.is_file():
            raise TwoAFCDataError(f"ratings table {path} does not exist")
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            if key not in header:
                raise TwoAFCDataError(f"{path}: header lacks the key column {key!r}")
            observers = [c for c in header if c.startswith(prefix)]
            if not observers:
                raise TwoAFCDataError(f"{path}: no observer columns starting with {prefix!r}")
            table: dict[str, np.ndarray] = {}
            for n, row in enumerate(reader, start=2):
                values = []
                for c in observers:
                    cell = (row.get(c) or "").strip()
                    try:
                        values.append(float(cell) if cell else math.nan)
                    except ValueError:
                        raise TwoAFCDataError(
                            f"{path} row {n}: rating {cell!r} of {c} is not a number"
                        ) from None
                table[row[key]] = np.asarray(values)
        out: dict[Path, np.ndarray] = {}
        for _, dist, _ in rows:
            for name in (dist.name, dist.stem):
                if name in table:
                    out[dist] = table[name]
                    break
            else:
                raise TwoAFCDataError(f"{path}: no ratings for {dist.name} (key column {key!r})")
        return out


class ConcatTwoAFC(TwoAFCDataset):
    """Several 2AFC data sets as one (e.g. BAPPS plus your own compression study).

    Group names are prefixed with the data set's position so references never collide.
    All items are decoded with this data set's ``preprocess``.
    """

    def __init__(self, datasets: Sequence[TwoAFCDataset], preprocess: Preprocess | None = None):
        if not datasets:
            raise TwoAFCDataError("ConcatTwoAFC needs at least one data set")
        records = [
            TripletRecord(r.ref, r.p0, r.p1, r.judge, f"{i}:{r.group}")
            for i, ds in enumerate(datasets)
            for r in ds.records
        ]
        super().__init__(records, preprocess)


# --------------------------------------------------------------------------- helpers


def split_by_group(
    groups: Sequence[str], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Indices of a train/val split in which no group (reference image) is in both parts."""
    unique = sorted(set(groups))
    if len(unique) < 2:
        raise TwoAFCDataError("a split by reference needs at least two reference images")
    rng = random.Random(seed)
    rng.shuffle(unique)
    n_val = min(len(unique) - 1, max(1, round(len(unique) * val_fraction)))
    val_groups = set(unique[:n_val])
    train = [i for i, g in enumerate(groups) if g not in val_groups]
    val = [i for i, g in enumerate(groups) if g in val_groups]
    return train, val


def open_dataset(path: str | os.PathLike, preprocess: Preprocess | None = None, **mos_options):
    """Guess the loader from ``path``: BAPPS/JND folder, triplet CSV/JSONL, or MOS score CSV."""
    path = Path(path)
    if path.is_dir():
        try:
            return BAPPS2AFC(path, preprocess)
        except TwoAFCDataError as first:
            try:
                return BAPPSJND(path, preprocess)
            except TwoAFCDataError:
                raise first from None
    if not path.is_file():
        raise TwoAFCDataError(f"{path} does not exist")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return TripletTable(path, preprocess)
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
    if all(c in header for c in TripletTable.FIELDS):
        return TripletTable(path, preprocess)
    if all(c in header for c in ("ref", "dist", "score")) or mos_options:
        return MOSPairs(path, preprocess=preprocess, **mos_options)
    raise TwoAFCDataError(
        f"{path}: cannot tell the format; a triplet table needs columns ref,p0,p1,judge and a "
        f"score table ref,dist,score (found {', '.join(header)})"
    )
