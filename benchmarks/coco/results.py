"""COCO results format: RLE masks, validation, and ``COCOeval`` summaries.

Everything a detector adapter returns passes through :func:`validate_results` before it is
scored or cached, so a plug-in with a wrong key or an unknown category fails with a message
that names the problem instead of a pycocotools assertion deep in ``loadRes``.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from perceptual_codec.core.errors import UserFacingError

IOU_TYPES = ("bbox", "segm")
# Names of COCOeval.stats in the order pycocotools prints them.
STAT_NAMES = (
    "AP", "AP50", "AP75", "APs", "APm", "APl",
    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)


class ResultsFormatError(UserFacingError, ValueError):
    """A detector returned something that is not a valid COCO results list."""


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Binary HxW mask -> COCO compressed RLE with a JSON-safe ``str`` counts field."""
    from pycocotools import mask as mask_utils

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected an HxW mask, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8, copy=False) > 0, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: dict[str, Any]) -> np.ndarray:
    """COCO RLE (compressed str/bytes counts, or uncompressed list counts) -> bool HxW."""
    from pycocotools import mask as mask_utils

    rle = _as_compressed(rle)
    return mask_utils.decode(rle).astype(bool)


def _as_compressed(rle: dict[str, Any]) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        return mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [h, w], "counts": counts}


def mask_to_bbox(mask: np.ndarray) -> list[float]:
    """Tight [x, y, w, h] of a binary mask (pixel-edge convention, as pycocotools toBbox)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def validate_results(
    results: Sequence[dict[str, Any]],
    *,
    image_ids: Iterable[int],
    category_ids: Iterable[int],
    iou_types: Sequence[str] = ("bbox",),
    source: str = "detector",
    drop_unknown_categories: bool = False,
) -> list[dict[str, Any]]:
    """Check a COCO results list and return it with plain Python numbers.

    Needs ``image_id``, ``category_id``, ``score`` and ``bbox`` on every entry, plus a
    ``segmentation`` RLE when ``"segm"`` is among ``iou_types``. A category the annotation
    file lacks is an error, or is dropped with ``drop_unknown_categories`` (a COCO-80 detector
    on a data set annotated with fewer classes; COCOeval would ignore those anyway).
    """
    if not isinstance(results, (list, tuple)):
        raise ResultsFormatError(f"{source} must return a list of dicts, got {type(results).__name__}")
    images = set(int(i) for i in image_ids)
    categories = set(int(c) for c in category_ids)
    out: list[dict[str, Any]] = []
    for k, det in enumerate(results):
        where = f"{source} result #{k}"
        if not isinstance(det, dict):
            raise ResultsFormatError(f"{where} is a {type(det).__name__}, not a dict")
        missing = [key for key in ("image_id", "category_id", "score", "bbox") if key not in det]
        if "segm" in iou_types and "segmentation" not in det:
            missing.append("segmentation")
        if missing:
            raise ResultsFormatError(f"{where} lacks {', '.join(missing)} (COCO results format)")
        image_id, category_id = int(det["image_id"]), int(det["category_id"])
        if image_id not in images:
            raise ResultsFormatError(f"{where}: image_id {image_id} is not one of the evaluated images")
        if category_id not in categories:
            if drop_unknown_categories:
                continue
            raise ResultsFormatError(
                f"{where}: category_id {category_id} is not in the annotation file's categories"
            )
        score = float(det["score"])
        bbox = [float(v) for v in det["bbox"]]
        if not math.isfinite(score):
            raise ResultsFormatError(f"{where}: score {det['score']!r} is not finite")
        if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox) or bbox[2] < 0 or bbox[3] < 0:
            raise ResultsFormatError(f"{where}: bbox must be [x, y, w, h] with w, h >= 0, got {det['bbox']!r}")
        clean: dict[str, Any] = {
            "image_id": image_id, "category_id": category_id, "bbox": bbox, "score": score,
        }
        if "segmentation" in det and det["segmentation"] is not None:
            seg = det["segmentation"]
            if not isinstance(seg, dict) or "size" not in seg or "counts" not in seg:
                raise ResultsFormatError(f"{where}: segmentation must be an RLE dict with size and counts")
            counts = seg["counts"]
            if isinstance(counts, bytes):
                counts = counts.decode("ascii")
            clean["segmentation"] = {"size": [int(v) for v in seg["size"]], "counts": counts}
        out.append(clean)
    return out


def quiet_coco(annotations: dict[str, Any] | str):
    """A pycocotools ``COCO`` built from a dict or a JSON path, without its chatter."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(annotations, dict):
            coco = COCO()
            coco.dataset = annotations
            coco.createIndex()
        else:
            coco = COCO(str(annotations))
    return coco


def evaluate(
    coco_gt: Any,
    results: Sequence[dict[str, Any]],
    iou_type: str,
    image_ids: Sequence[int] | None = None,
) -> dict[str, float]:
    """Run ``COCOeval`` and return its 12 summary numbers keyed by :data:`STAT_NAMES`.

    Scores are fractions (0..1), as pycocotools gives them. A statistic pycocotools marks
    undefined (-1: no ground truth in that area range) becomes NaN. No detections at all
    is a valid outcome (AP 0), not an error.
    """
    from pycocotools.cocoeval import COCOeval

    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    ids = sorted(int(i) for i in (image_ids if image_ids is not None else coco_gt.getImgIds()))
    dets = [d for d in results if int(d["image_id"]) in set(ids)]
    if iou_type == "segm":
        dets = [d for d in dets if d.get("segmentation") is not None]
    has_gt = len(coco_gt.getAnnIds(imgIds=ids, iscrowd=None)) > 0
    if not has_gt:
        return {name: float("nan") for name in STAT_NAMES}
    if not dets:
        stats = [0.0] * len(STAT_NAMES)
        return dict(zip(STAT_NAMES, stats, strict=True))
    prepared = []
    for d in dets:
        d = dict(d)
        if "segmentation" in d and d["segmentation"] is not None:
            d["segmentation"] = _as_compressed(d["segmentation"])
        # loadRes takes areas from the field it finds first: box area for bbox, mask area
        # for segm (with the box left in, segm APs/APm/APl would use box areas).
        if iou_type == "bbox":
            d.pop("segmentation", None)
        else:
            d.pop("bbox", None)
        prepared.append(d)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(prepared)
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {
        name: (float("nan") if v < 0 else float(v))
        for name, v in zip(STAT_NAMES, ev.stats, strict=True)
    }
