"""A COCO-format data set on disk: an image folder and an instances JSON.

Pixels are read exactly as stored (no EXIF rotation): COCO annotations refer to the stored
pixel grid, which is also what torchvision's ``CocoDetection`` feeds a detector.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perceptual_codec.core.errors import ImageReadError, UserFacingError


class DatasetError(UserFacingError, ValueError):
    """The COCO folder or annotation file is missing or malformed."""


@dataclass(frozen=True)
class ImageRecord:
    id: int
    file_name: str
    width: int
    height: int


def find_annotations(root: Path) -> tuple[Path, Path]:
    """Locate (images dir, instances JSON) inside a COCO-style folder.

    Accepts ``root/val2017`` + ``root/annotations/instances_val2017*.json`` (and any single
    ``instances_*.json``), as laid out by the official download.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"COCO folder {root} does not exist")
    ann_dir = root / "annotations"
    candidates = sorted(ann_dir.glob("instances_*.json")) if ann_dir.is_dir() else []
    if not candidates:
        raise DatasetError(
            f"no annotations/instances_*.json under {root}; pass --annotations FILE and --images DIR"
        )
    ann = candidates[0]
    if len(candidates) > 1:
        named = [c for c in candidates if "val2017" in c.name]
        if len(named) != 1:
            raise DatasetError(
                f"several instance files under {ann_dir} ({', '.join(c.name for c in candidates)}); "
                "choose one with --annotations"
            )
        ann = named[0]
    split = "val2017" if (root / "val2017").is_dir() else None
    if split is None:
        dirs = [d for d in root.iterdir() if d.is_dir() and d.name != "annotations"]
        if len(dirs) != 1:
            raise DatasetError(f"cannot tell which folder under {root} holds the images; pass --images")
        return dirs[0], ann
    return root / split, ann


class CocoDataset:
    """Images plus ground truth, restricted to a (sorted, optionally truncated) id list."""

    def __init__(
        self,
        images_dir: str | Path,
        annotations: str | Path,
        *,
        max_images: int | None = None,
        image_ids: Sequence[int] | None = None,
    ) -> None:
        self.images_dir = Path(images_dir)
        self.annotations_path = Path(annotations)
        if not self.images_dir.is_dir():
            raise DatasetError(f"image folder {self.images_dir} does not exist")
        if not self.annotations_path.is_file():
            raise DatasetError(f"annotation file {self.annotations_path} does not exist")
        try:
            data = json.loads(self.annotations_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"cannot read {self.annotations_path} as JSON: {exc}") from exc
        for key in ("images", "annotations", "categories"):
            if not isinstance(data.get(key), list):
                raise DatasetError(f"{self.annotations_path} has no '{key}' list; is it a COCO instances file?")
        records = {}
        for im in data["images"]:
            try:
                rec = ImageRecord(int(im["id"]), str(im["file_name"]), int(im["width"]), int(im["height"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{self.annotations_path}: malformed image entry {im!r}") from exc
            records[rec.id] = rec
        ids = sorted(records)
        if image_ids is not None:
            unknown = sorted(set(int(i) for i in image_ids) - set(ids))
            if unknown:
                raise DatasetError(f"image ids not in {self.annotations_path.name}: {unknown[:10]}")
            ids = sorted(set(int(i) for i in image_ids))
        if max_images is not None:
            if max_images < 1:
                raise DatasetError("--max-images must be at least 1")
            ids = ids[:max_images]
        if not ids:
            raise DatasetError(f"{self.annotations_path} lists no images")
        missing = [records[i].file_name for i in ids if not (self.images_dir / records[i].file_name).is_file()]
        if missing:
            raise DatasetError(
                f"{len(missing)} image file(s) listed in {self.annotations_path.name} are missing from "
                f"{self.images_dir}, e.g. {missing[0]}"
            )
        self.image_ids: list[int] = ids
        self.records: dict[int, ImageRecord] = {i: records[i] for i in ids}
        keep = set(ids)
        self.categories: list[dict[str, Any]] = data["categories"]
        self.gt: dict[str, Any] = {
            "info": data.get("info", {}),
            "licenses": data.get("licenses", []),
            "images": [im for im in data["images"] if int(im["id"]) in keep],
            "annotations": [a for a in data["annotations"] if int(a["image_id"]) in keep],
            "categories": self.categories,
        }
        self._coco = None

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def category_ids(self) -> list[int]:
        return [int(c["id"]) for c in self.categories]

    @property
    def coco(self):
        """pycocotools ``COCO`` over the selected images (built once, lazily)."""
        if self._coco is None:
            from benchmarks.coco.results import quiet_coco

            self._coco = quiet_coco(self.gt)
        return self._coco

    def path(self, image_id: int) -> Path:
        return self.images_dir / self.records[image_id].file_name

    def annotations_for(self, image_id: int) -> list[dict[str, Any]]:
        return self.coco.loadAnns(self.coco.getAnnIds(imgIds=[image_id], iscrowd=None))

    def load(self, image_id: int) -> np.ndarray:
        """The stored pixels as RGB uint8 HxWx3; checks the size against the JSON."""
        from PIL import Image, UnidentifiedImageError

        rec = self.records[image_id]
        path = self.path(image_id)
        try:
            with Image.open(path) as im:
                array = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
        except (OSError, UnidentifiedImageError) as exc:
            raise ImageReadError(f"cannot read image {path}: {exc}") from exc
        if array.shape[:2] != (rec.height, rec.width):
            raise DatasetError(
                f"{path} is {array.shape[1]}x{array.shape[0]} but the annotation file says "
                f"{rec.width}x{rec.height}"
            )
        return array

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this selection in caches and reports."""
        import hashlib

        digest = hashlib.sha256(self.annotations_path.read_bytes()).hexdigest()[:16]
        return {
            "annotations": self.annotations_path.name,
            "annotations_sha256_16": digest,
            "num_images": len(self.image_ids),
            "num_annotations": len(self.gt["annotations"]),
        }
