"""Writes everything a run produces (all files atomically) and returns the report's path."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.codecs.base import CodecAdapter
from benchmarks.metrics import MetricSuite
from benchmarks.rd.cache import ResultCache
from benchmarks.rd.plots import crop_grid, rd_plots
from benchmarks.rd.report import ReportContext, default_anchor, render
from benchmarks.rd.runner import BenchImage, RunResult, metric_description
from benchmarks.rd.tables import (
    bd_frames,
    compressai_json,
    matched_rate_frame,
    metric_columns,
    pair_bd_frame,
    parse_pairs,
    per_codec_frame,
    per_image_frame,
    timing_frame,
)
from perceptual_codec.core.atomic import atomic_write_text
from perceptual_codec.core.errors import UserFacingError


def _csv(df, path: Path, index: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, df.to_csv(index=index, float_format="%.10g"))


def write_outputs(out: Path, result: RunResult, images: Sequence[BenchImage],
                  codecs: Sequence[CodecAdapter], suite: MetricSuite, cache: ResultCache,
                  args: argparse.Namespace, command: str, started: str,
                  progress: bool = True) -> Path:
    per_image = per_image_frame(result.records)
    per_codec = per_codec_frame(per_image)
    _csv(per_image, out / "per_image.csv")
    _csv(per_codec, out / "per_codec.csv")

    ran = list(dict.fromkeys(per_codec["codec"]))
    by_label = {c.label: c for c in codecs}
    for label in ran:
        c = by_label[label]
        desc = f"{c.name} ({c.version()}); " + ", ".join(f"{k}={v}" for k, v in c.settings().items())
        (out / "json").mkdir(exist_ok=True)
        atomic_write_text(out / "json" / f"{label}.json",
                          json.dumps(compressai_json(per_codec, label, desc), indent=2))

    anchor = args.anchor or default_anchor(ran)
    if anchor not in ran:
        raise UserFacingError(f"anchor codec {anchor!r} has no results; choose from {', '.join(ran)}")
    metrics = metric_columns(per_codec)
    bd = bd_frames(per_codec, anchor, metrics)
    for (kind, method), df in bd.items():
        _csv(df, out / "bd" / f"bd_{kind}_{method}.csv", index=True)

    pairs = parse_pairs(args.pairs)  # labels checked by the CLI; a skipped codec gives NaN
    paired = pair_bd_frame(per_codec, pairs, metrics) if pairs else None
    matched = matched_rate_frame(per_codec, pairs, metrics) if pairs else None
    if paired is not None:
        _csv(paired, out / "bd" / "bd_rate_pchip_pairs.csv", index=True)
        _csv(matched, out / "matched_rate_pairs.csv")

    title = f"{Path(args.data).name} ({len(images)} images)"
    plots = rd_plots(per_codec, metrics, out / "plots", title,
                     kinds={c.label: c.name for c in codecs}, max_bpp=args.max_bpp)

    grid_path, grid_points, grid_note = None, [], ""
    names = {img.name: img for img in images}
    gname = args.grid_image or images[0].name
    if gname not in names:
        raise UserFacingError(f"--grid-image {gname!r} is not among the images "
                              f"({', '.join(list(names)[:5])}...)")
    img = names[gname]
    from perceptual_codec.core.io import load_image_array

    original = load_image_array(img.path)
    mask = None
    if suite.saliency_used:
        mp = cache.saliency_path(img.key, suite.saliency_used, suite.salient_fraction)
        if mp.is_file():
            mask = np.load(mp)
    grid_codecs = [by_label[label] for label in ran]
    grid_path, grid_points = crop_grid(original, grid_codecs, per_image, gname, args.grid_bpp,
                                       out / "plots" / f"crops_{gname}.png", args.grid_crop, mask)
    grid_note = (f"Image `{gname}`; each codec at its quality whose rate on this image is "
                 f"closest to {args.grid_bpp:g} bpp (log scale). The crop is centred on the "
                 "salient region's centroid" + (" (saliency model "
                 f"`{suite.saliency_used}`)." if mask is not None else " (image centre: no "
                 "saliency model)."))

    desc = metric_description(suite, not args.no_learned)
    ctx = ReportContext(
        command=command, data_dir=str(args.data), n_images=len(images),
        image_sizes=sorted({f"{i.width}x{i.height}" for i in images}),
        codecs=[by_label[label] for label in ran], skipped_codecs=result.skipped_codecs,
        metric_notes=list(dict.fromkeys(suite.notes)),
        metric_settings={"lpips": desc["lpips_loaded"], "saliency_used": suite.saliency_used,
                         "salient_fraction": suite.salient_fraction, "groups": desc["groups"]},
        anchor=anchor, per_codec=per_codec, bd=bd, paired_bd=paired, matched=matched,
        timing=timing_frame(per_image), plots=plots,
        grid=grid_path, grid_points=grid_points, grid_note=grid_note, failures=result.failures,
        reused=result.reused, computed=result.computed, jobs=args.jobs, started=started,
        finished=time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    )
    if args.no_learned:
        ctx.metric_notes.append("LPIPS columns skipped (--no-learned)")
    report = out / "report.md"
    atomic_write_text(report, render(ctx, out))
    return report
