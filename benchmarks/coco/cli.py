"""``pcodec bench coco``: detection, segmentation and classification on decoded images."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perceptual_codec.core.errors import UserFacingError

DEFAULT_CODECS = ("jpeg", "webp", "avif")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Compress COCO images with each codec and quality, decode them, run a detector "
            "(pycocotools bbox/segm AP) and an ImageNet classifier (top-1 agreement, KL against "
            "the originals), and write CSV, CompressAI-style JSON, plots, BD deltas and a report."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument("--data", type=Path, help="COCO folder with val2017/ and annotations/instances_*.json")
    data.add_argument("--images", type=Path, help="image folder (instead of --data)")
    data.add_argument("--annotations", type=Path, help="instances JSON (instead of --data)")
    data.add_argument("--max-images", type=int, default=None, help="first N images by id")
    codecs = p.add_argument_group("codecs")
    codecs.add_argument("--codec", action="append", dest="codecs", metavar="SPEC",
                        help="codec spec NAME[:KEY=VALUE...], e.g. jpeg:qualities=10,30,50; "
                             f"repeatable (default: {', '.join(DEFAULT_CODECS)}, the available ones)")
    codecs.add_argument("--anchor", default=None, help="codec the BD deltas are measured against (default jpeg)")
    models = p.add_argument_group("models")
    models.add_argument("--detector", default="maskrcnn",
                        help="maskrcnn, fasterrcnn, oracle, none, or package.module:factory")
    models.add_argument("--weights", default=None,
                        help="detector checkpoint (default: resolved; see the weights error for the options)")
    models.add_argument("--detector-opt", action="append", default=[], metavar="KEY=VALUE",
                        help="detector option, e.g. score_threshold=0.05 or tolerance=16 (oracle)")
    models.add_argument("--classifier", default="efficientnet-lite0", choices=["efficientnet-lite0", "none"])
    models.add_argument("--classifier-weights", default=None, help="EfficientNet-Lite0 state dict")
    run = p.add_argument_group("execution")
    run.add_argument("--device", default="cpu", help="torch device for inference (cpu, cuda, cuda:1)")
    run.add_argument("--batch-size", type=int, default=4)
    run.add_argument("--jobs", type=int, default=0, help="DataLoader workers doing the codec round trips")
    run.add_argument("--out", type=Path, default=Path("results/coco"), help="output folder")
    run.add_argument("--cache", type=Path, default=None, help="cache folder (default OUT/cache)")
    run.add_argument("--threads", type=int, default=None,
                     help="torch CPU threads (default: torch's; 1 is fastest on a busy machine)")
    run.add_argument("--save-detections", action="store_true",
                     help="also write each setting's COCO results file under OUT/detections/")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--title", default=None)
    dist = p.add_argument_group("multi-GPU / multi-node (Lightning predict)")
    dist.add_argument("--lightning", action="store_true", help="run inference with pl.Trainer.predict")
    dist.add_argument("--accelerator", default="auto")
    dist.add_argument("--devices", default="auto", help="devices per node (number, list or auto)")
    dist.add_argument("--num-nodes", type=int, default=1)
    dist.add_argument("--strategy", default="ddp")
    return p


def _parse_opts(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserFacingError(f"--detector-opt expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        v: Any = value
        for cast in (int, float):
            try:
                v = cast(value)
                break
            except ValueError:
                continue
        out[key.strip().replace("-", "_")] = v
    return out


def _codecs(specs: Sequence[str] | None) -> tuple[list[Any], list[str]]:
    from benchmarks.codecs import parse_codec_spec

    chosen, skipped = [], []
    for spec in specs or DEFAULT_CODECS:
        codec = parse_codec_spec(spec)
        ok, why = codec.available()
        if not ok:
            if specs:  # asked for by name: that is an error, not a silent skip
                raise UserFacingError(f"codec {codec.label} cannot run here: {why}")
            skipped.append(f"{codec.label} ({why})")
            continue
        chosen.append(codec)
    labels = [c.label for c in chosen]
    if "original" in labels:
        raise UserFacingError("the codec label 'original' is reserved for the reference row; add :label=NAME")
    dupes = {x for x in labels if labels.count(x) > 1}
    if dupes:
        raise UserFacingError(f"codec label(s) used twice: {', '.join(sorted(dupes))}; add :label=NAME")
    if not chosen:
        raise UserFacingError("no codec can run here: " + "; ".join(skipped))
    return chosen, skipped


def _devices(text: str) -> Any:
    if text == "auto":
        return text
    if "," in text:
        return [int(x) for x in text.split(",") if x]
    try:
        return int(text)
    except ValueError as exc:
        raise UserFacingError(f"--devices must be auto, a number or a list like 0,1: {text!r}") from exc


def _save_detections(processor: Any, image_ids: Sequence[int], folder: Path) -> None:
    """One COCO results JSON per setting (the file pycocotools' ``loadRes`` reads)."""
    import json

    from perceptual_codec.core.atomic import atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    for setting in processor.settings:
        results = [d for i in image_ids for d in processor.record("det", setting, i)["detections"]]
        name = setting.label if setting.quality is None else f"{setting.label}_q{setting.quality}"
        atomic_write_text(folder / f"{name}.json", json.dumps(results))


def main(argv: Sequence[str], prog: str = "pcodec bench coco") -> int:
    args = build_parser(prog).parse_args(list(argv))
    command = " ".join([prog, *(shlex.quote(a) for a in argv)])
    import time

    t0 = time.time()
    from benchmarks.coco.dataset import CocoDataset, find_annotations
    from benchmarks.coco.detectors import load_detector
    from benchmarks.coco.pipeline import (
        BatchProcessor,
        RoundTripItems,
        make_settings,
        pending_items,
        run_local,
        summarize,
    )
    from benchmarks.coco.report import write_outputs

    if args.data is not None:
        images_dir, ann = find_annotations(args.data)
        images_dir = args.images or images_dir
        ann = args.annotations or ann
    elif args.images is not None and args.annotations is not None:
        images_dir, ann = args.images, args.annotations
    else:
        raise UserFacingError("give --data DIR, or both --images DIR and --annotations FILE")
    if args.batch_size < 1 or args.jobs < 0:
        raise UserFacingError("--batch-size must be >= 1 and --jobs >= 0")
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise UserFacingError("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    dataset = CocoDataset(images_dir, ann, max_images=args.max_images)
    codecs, skipped = _codecs(args.codecs)

    detector = None
    if args.detector != "none":
        detector = load_detector(args.detector, dataset=dataset, device=args.device,
                                 weights=args.weights, options=_parse_opts(args.detector_opt))
    classifier = None
    if args.classifier != "none":
        from benchmarks.coco.classification import ImageNetClassifier

        classifier = ImageNetClassifier(device=args.device, weights=args.classifier_weights)
    if detector is None and classifier is None:
        raise UserFacingError("nothing to measure: --detector none and --classifier none")

    settings = make_settings(codecs)
    cache_root = args.cache or (args.out / "cache")
    processor = BatchProcessor(settings, cache_root, dataset, detector, classifier)
    items = RoundTripItems(dataset, {c.label: c for c in codecs}, settings,
                           pending_items(processor, dataset.image_ids))
    total = len(settings) * len(dataset)
    if not args.no_progress:
        print(f"{prog}: {len(dataset)} images x {len(settings)} settings; "
              f"{total - len(items)} cached, {len(items)} to compute", file=sys.stderr)
    if args.lightning:
        from benchmarks.coco.lightning import run_lightning

        is_main = run_lightning(processor, items, batch_size=args.batch_size, jobs=args.jobs,
                                accelerator=args.accelerator, devices=_devices(args.devices),
                                num_nodes=args.num_nodes, strategy=args.strategy,
                                progress=not args.no_progress)
        if not is_main:
            return 0
    else:
        processor.to(args.device)
        run_local(processor, items, batch_size=args.batch_size, jobs=args.jobs,
                  progress=not args.no_progress)

    rows = summarize(processor, dataset.image_ids)
    notes = []
    if detector is not None and detector.name == "oracle":
        notes.append(
            "The detection rows use the **oracle** detector, not a learned detector: it returns "
            "the ground-truth objects, keeping only mask pixels whose decoded value stays within "
            f"{detector.tolerance:g}/255 of the original (box shrunk to the kept fraction, score = "
            "kept fraction). Its AP is 100 on the originals by construction and measures how much "
            "of each object's pixels survive coding; box and mask AP coincide by construction "
            "(both IoUs equal the kept fraction). It is not comparable to published mAP."
        )
        from benchmarks.coco.weights import DETECTOR_WEIGHTS, weights_available

        missing = [w.filename for w in DETECTOR_WEIGHTS.values() if not weights_available(w.arch)]
        if missing:
            notes.append(
                "No learned COCO detector was run because its weights are not on this machine "
                f"(looked for {', '.join(missing)} via --weights/env vars, $PCODEC_ASSETS_DIR and "
                "the torch hub cache). With them, rerun with --detector maskrcnn (bbox + segm) or "
                "--detector fasterrcnn."
            )
    if detector is None:
        notes.append("No detector ran (--detector none): the table has no AP columns.")
    if skipped:
        notes.append("Codecs skipped because they cannot run here: " + "; ".join(skipped) + ".")
    from importlib.metadata import version

    import PIL
    import torch
    import torchvision

    meta = {
        "title": args.title or "Downstream benchmark on COCO",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "data": f"{images_dir} ({len(dataset)} images, {len(dataset.gt['annotations'])} annotations)",
        "annotations": dataset.fingerprint(),
        "detector": None if detector is None else detector.config(),
        "classifier": None if classifier is None else classifier.config(),
        "codecs": {c.label: {"name": c.name, "qualities": list(c.qualities), "settings": c.settings(),
                             "version": c.version(), "config_id": c.config_id()} for c in codecs},
        "skipped_codecs": skipped,
        "device": args.device if not args.lightning else f"lightning {args.accelerator} x{args.devices}",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "pycocotools": version("pycocotools"), "Pillow": PIL.__version__},
        "wall_time": f"{time.time() - t0:.0f} s (cached items are not recomputed)",
    }
    paths = write_outputs(rows, args.out, command=command, anchor=args.anchor, meta=meta, notes=notes)
    if args.save_detections and detector is not None:
        _save_detections(processor, dataset.image_ids, args.out / "detections")
    print(f"{prog}: wrote {paths['report']}", file=sys.stderr)
    return 0
