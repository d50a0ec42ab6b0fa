"""Detector adapters: decoded images in, COCO results out.

A detector is anything with ``name``, ``iou_types`` (``("bbox",)`` or ``("bbox", "segm")``)
and ``predict(images, image_ids) -> list[dict]`` in COCO results format (``image_id``,
``category_id``, ``bbox`` as [x, y, w, h], ``score``, and an RLE ``segmentation`` for segm).
Subclass :class:`Detector` or pass ``--detector package.module:factory`` to plug in your own.
"""

from __future__ import annotations

import abc
import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.coco.results import encode_mask
from perceptual_codec.core.errors import UserFacingError


class DetectorError(UserFacingError, ValueError):
    """Unknown detector name or a plug-in that does not follow the adapter interface."""


class Detector(abc.ABC):
    """Base class for detector adapters (see the module docstring)."""

    name: str = ""
    iou_types: tuple[str, ...] = ("bbox",)

    @abc.abstractmethod
    def predict(self, images: Sequence[np.ndarray], image_ids: Sequence[int]) -> list[dict[str, Any]]:
        """COCO results for a batch of RGB uint8 HxWx3 images."""

    def to(self, device: Any) -> Detector:
        """Move model state to ``device`` (no-op for detectors without a network)."""
        return self

    def config(self) -> dict[str, Any]:
        """Everything that changes the output; part of the cache key."""
        return {"name": self.name}


class TorchvisionDetector(Detector):
    """torchvision Faster R-CNN / Mask R-CNN (ResNet-50 FPN) with COCO weights.

    ``weights`` is a checkpoint path, ``None`` (resolve the COCO_V1 file: see
    :mod:`benchmarks.coco.weights`) or ``"random"`` (untrained, for tests and timing only).
    Labels of torchvision's COCO heads are COCO category ids; its 'N/A' placeholders are dropped.
    """

    ARCHS = ("fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn")

    def __init__(
        self,
        arch: str = "maskrcnn_resnet50_fpn",
        weights: str | None = None,
        *,
        device: str = "cpu",
        score_threshold: float = 0.05,
        max_detections: int = 100,
        min_size: int = 800,
        max_size: int = 1333,
        mask_threshold: float = 0.5,
        proposals: int = 1000,
        seed: int = 0,
    ) -> None:
        import torch
        import torchvision
        from torchvision.models import detection

        if arch not in self.ARCHS:
            raise DetectorError(f"unknown torchvision detector {arch!r}; choose from {self.ARCHS}")
        self.arch = arch
        self.name = arch
        self.iou_types = ("bbox", "segm") if arch.startswith("maskrcnn") else ("bbox",)
        self.mask_threshold = float(mask_threshold)
        self._options = {
            "score_threshold": float(score_threshold), "max_detections": int(max_detections),
            "min_size": int(min_size), "max_size": int(max_size),
            "mask_threshold": self.mask_threshold, "proposals": int(proposals),
        }
        builder = getattr(detection, arch)
        enum = (detection.MaskRCNN_ResNet50_FPN_Weights if self.iou_types == ("bbox", "segm")
                else detection.FasterRCNN_ResNet50_FPN_Weights)
        categories = enum.COCO_V1.meta["categories"]
        self._label_to_category = {i: i for i, c in enumerate(categories) if c not in ("N/A", "__background__")}
        path = None
        if weights != "random":  # resolve first: a missing file fails before any model work
            from benchmarks.coco.weights import resolve_detector_weights

            path = resolve_detector_weights(arch, weights)
        # torchvision's test-time defaults, except ``proposals`` (post-NMS RPN boxes per image).
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(seed)
            self.model = builder(
                weights=None, weights_backbone=None, num_classes=len(categories),
                box_score_thresh=float(score_threshold), box_detections_per_img=int(max_detections),
                min_size=int(min_size), max_size=int(max_size),
                rpn_pre_nms_top_n_test=max(int(proposals), 1000),
                rpn_post_nms_top_n_test=int(proposals),
            )
        if path is None:
            self.weights_id = f"random(seed={seed})"
        else:
            from perceptual_codec.core.assets import file_sha256

            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state)
            self.weights_id = file_sha256(path)[:16]
        self.model.eval()
        self.torchvision_version = torchvision.__version__
        self.device = torch.device("cpu")
        self.to(device)

    def to(self, device: Any) -> TorchvisionDetector:
        import torch

        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights_id, **self._options}

    def predict(self, images: Sequence[np.ndarray], image_ids: Sequence[int]) -> list[dict[str, Any]]:
        import torch

        tensors = [
            torch.from_numpy(np.ascontiguousarray(im)).to(self.device).permute(2, 0, 1).float().div_(255.0)
            for im in images
        ]
        with torch.inference_mode():
            outputs = self.model(tensors)
        results: list[dict[str, Any]] = []
        for image_id, out in zip(image_ids, outputs, strict=True):
            boxes = out["boxes"].float().cpu().numpy()
            scores = out["scores"].float().cpu().numpy()
            labels = out["labels"].cpu().numpy()
            masks = None
            if "masks" in out:
                masks = (out["masks"][:, 0] > self.mask_threshold).cpu().numpy()
            for k in range(len(scores)):
                category = self._label_to_category.get(int(labels[k]))
                if category is None:
                    continue
                x0, y0, x1, y1 = (float(v) for v in boxes[k])
                det = {
                    "image_id": int(image_id), "category_id": category,
                    "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(scores[k]),
                }
                if masks is not None:
                    det["segmentation"] = encode_mask(masks[k])
                results.append(det)
        return results


class OracleDetector(Detector):
    """Ground truth, kept only where the received pixels still match the original.

    For each (non-crowd) ground-truth object the oracle keeps the mask pixels whose decoded
    value is within ``tolerance`` (max over RGB, 0-255 scale) of the original image; with
    f = kept / total it returns the kept mask, the ground-truth box shrunk about its centre
    to IoU f, and score f. Uncompressed images therefore give AP 1.0 exactly, and AP at IoU
    threshold t is the share of objects with f >= t: a distortion measure on object pixels,
    computed from the images, not a learned detector. It needs the original images, so it is
    built with the data set.
    """

    name = "oracle"
    iou_types = ("bbox", "segm")

    def __init__(self, dataset: Any, tolerance: float = 16.0) -> None:
        if tolerance < 0:
            raise DetectorError("oracle tolerance must be >= 0")
        self.dataset = dataset
        self.tolerance = float(tolerance)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "tolerance": self.tolerance}

    def predict(self, images: Sequence[np.ndarray], image_ids: Sequence[int]) -> list[dict[str, Any]]:
        coco = self.dataset.coco
        results: list[dict[str, Any]] = []
        for image, image_id in zip(images, image_ids, strict=True):
            reference = self.dataset.load(int(image_id))
            if image.shape != reference.shape:
                raise DetectorError(
                    f"oracle: image {image_id} is {image.shape}, the original is {reference.shape}"
                )
            error = np.abs(image.astype(np.int16) - reference.astype(np.int16)).max(axis=2)
            intact = error <= self.tolerance
            for ann in self.dataset.annotations_for(int(image_id)):
                if ann.get("iscrowd", 0):
                    continue
                mask = coco.annToMask(ann).astype(bool)
                total = int(mask.sum())
                if total == 0:
                    continue
                kept = mask & intact
                f = float(kept.sum()) / total
                x, y, w, h = (float(v) for v in ann["bbox"])
                s = float(np.sqrt(f))
                results.append({
                    "image_id": int(image_id), "category_id": int(ann["category_id"]),
                    "bbox": [x + w * (1 - s) / 2, y + h * (1 - s) / 2, w * s, h * s],
                    "score": f, "segmentation": encode_mask(kept),
                })
        return results


BUILTIN = {
    "oracle": "ground truth checked against the decoded pixels (needs no weights)",
    "fasterrcnn": "torchvision Faster R-CNN ResNet-50 FPN, COCO_V1 weights (bbox)",
    "maskrcnn": "torchvision Mask R-CNN ResNet-50 FPN, COCO_V1 weights (bbox + segm)",
}
_ALIASES = {"fasterrcnn": "fasterrcnn_resnet50_fpn", "maskrcnn": "maskrcnn_resnet50_fpn"}


def check_detector(obj: Any, source: str) -> Any:
    """Raise DetectorError unless ``obj`` follows the adapter interface."""
    missing = [a for a in ("name", "iou_types", "predict") if not hasattr(obj, a)]
    if missing:
        raise DetectorError(f"{source} returned {type(obj).__name__} without {', '.join(missing)}")
    bad = [t for t in obj.iou_types if t not in ("bbox", "segm")]
    if bad or not obj.iou_types:
        raise DetectorError(f"{source}: iou_types must be a subset of ('bbox', 'segm'), got {obj.iou_types!r}")
    return obj


def load_detector(
    spec: str,
    *,
    dataset: Any = None,
    device: str = "cpu",
    weights: str | None = None,
    options: dict[str, Any] | None = None,
) -> Detector:
    """Build a detector from a name (see :data:`BUILTIN`) or ``package.module:factory``.

    A factory is called with ``options`` plus ``dataset`` and ``device`` when its signature
    accepts them, and must return an adapter.
    """
    options = dict(options or {})
    name = _ALIASES.get(spec, spec)
    if name == "oracle":
        if dataset is None:
            raise DetectorError("the oracle detector needs the data set")
        return OracleDetector(dataset, **options)
    if name in TorchvisionDetector.ARCHS:
        return TorchvisionDetector(name, weights, device=device, **options)
    if ":" not in spec:
        raise DetectorError(
            f"unknown detector {spec!r}; choose from {', '.join(BUILTIN)} or give "
            "package.module:factory for your own adapter"
        )
    module_name, attr = spec.split(":", 1)
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise DetectorError(f"cannot load detector factory {spec!r}: {exc}") from exc
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value in (("dataset", dataset), ("device", device), ("weights", weights)):
        if (key in params or takes_kwargs) and value is not None:
            options.setdefault(key, value)
    return check_detector(factory(**options), spec)
