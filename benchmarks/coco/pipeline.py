"""The benchmark's work: (setting, image) -> decoded image -> detector + classifier -> cache.

A *setting* is one codec at one quality, or the original images (the reference row). Work
items run through a torch ``DataLoader`` whose workers (``--jobs``) do the encoding and
decoding, while the main process (or each Lightning rank) runs batched inference, so both the
local loop and the multi-GPU ``predict`` path share :class:`RoundTripItems` and
:class:`BatchProcessor`. Results go to :class:`~benchmarks.coco.cache.StageCache`; the
summary is computed from the cache only, so a resumed run and a fresh one give the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.coco.cache import StageCache, decode_array, encode_array, image_key
from benchmarks.coco.classification import consistency
from benchmarks.coco.results import evaluate, validate_results

ORIGINAL = "original"


@dataclass(frozen=True)
class Setting:
    """One row of the benchmark: a codec at a quality, or the original images."""

    label: str
    codec_id: str
    quality: Any = None

    @property
    def is_original(self) -> bool:
        return self.label == ORIGINAL

    @property
    def codec_dir(self) -> str:
        return StageCache.codec_dir(self.label, self.codec_id)

    @property
    def quality_key(self) -> Any:
        return "ref" if self.quality is None else self.quality


def make_settings(codecs: Sequence[Any]) -> list[Setting]:
    """The reference row first, then every codec's qualities in order."""
    settings = [Setting(ORIGINAL, "stored")]
    for codec in codecs:
        settings += [Setting(codec.label, codec.config_id(), q) for q in codec.qualities]
    return settings


class RoundTripItems:
    """Map-style dataset of (setting, image id): loads, encodes, decodes, measures the rate.

    For the original images the rate is that of the stored file (COCO's own JPEG).
    """

    def __init__(self, dataset: Any, codecs: dict[str, Any], settings: Sequence[Setting],
                 items: Sequence[tuple[int, int]]) -> None:
        self.dataset = dataset
        self.codecs = codecs
        self.settings = list(settings)
        self.items = list(items)  # (setting index, image id)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s_index, image_id = self.items[index]
        setting = self.settings[s_index]
        image = self.dataset.load(image_id)
        if setting.is_original:
            decoded, num_bytes = image, self.dataset.path(image_id).stat().st_size
        else:
            rt = self.codecs[setting.label].roundtrip(image, setting.quality)
            decoded, num_bytes = rt.decoded, rt.num_bytes
        return {
            "setting": s_index, "image_id": int(image_id), "image": decoded,
            "image_key": image_key(self.dataset.path(image_id), image),
            "num_bytes": int(num_bytes), "height": int(image.shape[0]), "width": int(image.shape[1]),
        }


def collate_items(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep items as a list: images differ in size and detectors take lists anyway."""
    return list(batch)


class BatchProcessor:
    """Runs the detector and the classifier on a batch and writes every result to the cache."""

    def __init__(self, settings: Sequence[Setting], cache_root: str | Path, dataset: Any,
                 detector: Any = None, classifier: Any = None) -> None:
        self.settings = list(settings)
        self.dataset = dataset
        self.detector = detector
        self.classifier = classifier
        self.stages: dict[str, StageCache] = {}
        if detector is not None:
            self.stages["det"] = StageCache(cache_root, "det", {
                "detector": detector.config(), "iou_types": list(detector.iou_types)})
        if classifier is not None:
            self.stages["cls"] = StageCache(cache_root, "cls", {"classifier": classifier.config()})
        self._keys: dict[int, str] = {}

    def image_key(self, image_id: int, pixels: np.ndarray | None = None) -> str:
        """The rd cache's image key (file stem + pixel hash), computed once per image."""
        if image_id not in self._keys:
            if pixels is None:
                pixels = self.dataset.load(image_id)
            self._keys[image_id] = image_key(self.dataset.path(image_id), pixels)
        return self._keys[image_id]

    def to(self, device: Any) -> BatchProcessor:
        for model in (self.detector, self.classifier):
            if model is not None and hasattr(model, "to"):
                model.to(device)
        return self

    def record(self, stage: str, setting: Setting, image_id: int) -> dict | None:
        return self.stages[stage].get(setting.codec_dir, self.image_key(image_id), setting.quality_key)

    def pending(self, setting: Setting, image_id: int) -> bool:
        """True when some stage of this item is not in the cache yet."""
        return any(self.record(stage, setting, image_id) is None for stage in self.stages)

    def process(self, batch: Sequence[dict[str, Any]]) -> int:
        groups: dict[int, list[dict[str, Any]]] = {}
        for item in batch:
            groups.setdefault(int(item["setting"]), []).append(item)
        for s_index, items in groups.items():
            setting = self.settings[s_index]
            images = [it["image"] for it in items]
            ids = [it["image_id"] for it in items]
            payload: dict[str, dict[int, dict[str, Any]]] = {}
            if self.detector is not None:
                raw = self.detector.predict(images, ids)
                dets = validate_results(
                    raw, image_ids=ids, category_ids=self.dataset.category_ids,
                    iou_types=self.detector.iou_types, source=f"detector {self.detector.name}",
                    drop_unknown_categories=True,
                )
                per_image: dict[int, list] = {i: [] for i in ids}
                for d in dets:
                    per_image[d["image_id"]].append(d)
                payload["det"] = {i: {"detections": per_image[i]} for i in ids}
            if self.classifier is not None:
                log_probs = self.classifier.log_probs(images)
                payload["cls"] = {i: {"log_probs": encode_array(row)}
                                  for i, row in zip(ids, log_probs, strict=True)}
            for it in items:
                rate = {"num_bytes": it["num_bytes"], "height": it["height"], "width": it["width"]}
                key = it.get("image_key") or self.image_key(it["image_id"])
                for stage, records in payload.items():
                    self.stages[stage].put(setting.codec_dir, key, setting.quality_key,
                                           {**rate, **records[it["image_id"]]})
        return len(batch)


def pending_items(processor: BatchProcessor, image_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Every (setting index, image id) still to compute, reference first."""
    return [
        (s_index, int(i))
        for s_index, setting in enumerate(processor.settings)
        for i in image_ids
        if processor.pending(setting, int(i))
    ]


def run_local(processor: BatchProcessor, items_dataset: RoundTripItems, *, batch_size: int = 4,
              jobs: int = 0, progress: bool = True) -> int:
    """Single-process inference; ``jobs`` DataLoader workers do the coding in parallel."""
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    if len(items_dataset) == 0:
        return 0
    loader = DataLoader(items_dataset, batch_size=batch_size, shuffle=False, num_workers=jobs,
                        collate_fn=collate_items, persistent_workers=False)
    done = 0
    with tqdm(total=len(items_dataset), desc="coco bench", unit="img", disable=not progress) as bar:
        for batch in loader:
            done += processor.process(batch)
            bar.update(len(batch))
    return done


def summarize(processor: BatchProcessor, image_ids: Sequence[int]) -> list[dict[str, Any]]:
    """One row per setting, from the cache only (raises if an entry is missing).

    AP values and agreements are percentages; ``kl`` is in nats; ``bpp`` is the mean of the
    per-image rates (CompressAI's convention).
    """
    dataset = processor.dataset
    reference = None
    if processor.classifier is not None:
        reference = _stack_cls(processor, processor.settings[0], image_ids)
    rows = []
    for setting in processor.settings:
        stage = "det" if "det" in processor.stages else "cls"
        records = [processor.record(stage, setting, i) for i in image_ids]
        if any(r is None for r in records):
            raise RuntimeError(f"cache incomplete for {setting.label} q={setting.quality}")
        bpp = [8.0 * r["num_bytes"] / (r["height"] * r["width"]) for r in records]
        row: dict[str, Any] = {
            "codec": setting.label, "quality": setting.quality, "bpp": float(np.mean(bpp)),
            "num_images": len(image_ids),
        }
        if processor.detector is not None:
            results = [d for r in records for d in r["detections"]]
            row["num_detections"] = len(results)
            for iou_type in processor.detector.iou_types:
                stats = evaluate(dataset.coco, results, iou_type, image_ids)
                for name in ("AP", "AP50", "AP75", "APs", "APm", "APl"):
                    row[f"{iou_type}_{name}"] = 100.0 * stats[name]  # percent, as papers quote
        if reference is not None:
            agree = consistency(reference, _stack_cls(processor, setting, image_ids))
            row["top1_agreement"] = 100.0 * agree["top1_agreement"]
            row["top5_agreement"] = 100.0 * agree["top5_agreement"]
            row["kl"] = agree["kl"]
        rows.append(row)
    return rows


def _stack_cls(processor: BatchProcessor, setting: Setting, image_ids: Sequence[int]) -> np.ndarray:
    records = [processor.record("cls", setting, i) for i in image_ids]
    if any(r is None for r in records):
        raise RuntimeError(f"classifier outputs missing for {setting.label} q={setting.quality}")
    return np.stack([decode_array(r["log_probs"]) for r in records])
