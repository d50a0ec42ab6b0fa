"""The Markdown report that ties the tables, plots and settings of one run together."""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bdrate import METHODS
from benchmarks.codecs.base import CodecAdapter
from benchmarks.rd.tables import METRIC_INFO


@dataclass
class ReportContext:
    command: str
    data_dir: str
    n_images: int
    image_sizes: list[str]
    codecs: list[CodecAdapter]
    skipped_codecs: dict[str, str]
    metric_notes: list[str]
    metric_settings: dict[str, Any]
    anchor: str
    per_codec: pd.DataFrame
    bd: dict[tuple[str, str], pd.DataFrame]
    timing: pd.DataFrame
    plots: dict[str, Path]
    grid: Path | None = None
    paired_bd: pd.DataFrame | None = None
    matched: pd.DataFrame | None = None
    grid_points: list[dict] = field(default_factory=list)
    grid_note: str = ""
    failures: list[str] = field(default_factory=list)
    reused: int = 0
    computed: int = 0
    jobs: int = 1
    started: str = ""
    finished: str = ""
    extra_notes: list[str] = field(default_factory=list)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, np.integer | bool):
        return str(v)
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "inf"
        return f"{v:.{digits}f}"
    return str(v)


def md_table(df: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """A GitHub Markdown table (no tabulate dependency)."""
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for idx, *values in df.itertuples(index=True):
        cells = ([str(idx)] if index else []) + [_fmt(v, digits) for v in values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _versions() -> list[str]:
    """Installed versions from package metadata (importing compressai etc. is slow)."""
    from importlib.metadata import PackageNotFoundError, version

    out = [f"Python {platform.python_version()} on {platform.system()} {platform.machine()}"]
    for dist in ("torch", "pillow", "compressai", "lpips", "numpy", "scipy", "pandas"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            pass
    return out


def _label(metric: str) -> str:
    return METRIC_INFO[metric][1]


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    """Metric columns renamed to their human labels; other columns kept."""
    return df.rename(columns={m: _label(m) for m in df.columns if m in METRIC_INFO})


def render(ctx: ReportContext, out_dir: Path) -> str:
    rel = lambda p: Path(p).relative_to(out_dir).as_posix()  # noqa: E731
    lines: list[str] = []
    add = lines.append
    add(f"# Rate-distortion benchmark: {Path(ctx.data_dir).name}\n")
    add("Produced by this command (rerun it to reproduce; finished points come from the cache):\n")
    add(f"```\n{ctx.command}\n```\n")
    add(f"- Data: `{ctx.data_dir}`, {ctx.n_images} images ({', '.join(ctx.image_sizes)}).")
    add(f"- Run: {ctx.started} to {ctx.finished} UTC, {ctx.jobs} worker(s); "
        f"{ctx.computed} points computed, {ctx.reused} taken from the cache.")
    add(f"- Environment: {'; '.join(_versions())}.")
    add("- Rate: bits per pixel from the size of the real file each codec writes (headers and "
        "container included), averaged over images. Metrics are computed on the 8-bit "
        "decoded image and averaged over images per quality setting (PSNR averaged in dB, as "
        "CompressAI does).")
    add("")
    add("## Codecs\n")
    rows = []
    for c in ctx.codecs:
        rows.append({"codec": c.label, "adapter": c.name, "file": c.extension,
                     "sweep": f"{c.quality_label}: "
                     + ", ".join(str(q) for q in c.qualities),
                     "version": c.version(), "settings": ", ".join(
                         f"{k}={v}" for k, v in c.settings().items())})
    if rows:
        add(md_table(pd.DataFrame(rows).set_index("codec")))
    if ctx.skipped_codecs:
        add("\nNot run here (unavailable):\n")
        for name, why in ctx.skipped_codecs.items():
            add(f"- **{name}**: {why}")
    add("")
    add("## Metrics\n")
    ms = ctx.metric_settings
    add("- PSNR-RGB: 10 log10(255^2 / MSE) over all RGB samples. MS-SSIM: 5 scales, 11x11 "
        "Gaussian window, data range 255 (pytorch-msssim); MS-SSIM [dB] = -10 log10(1 - MS-SSIM).")
    add(f"- LPIPS (lower is better) via `twoafc.load_metric`: {', '.join(ms.get('lpips') or []) or 'none'}.")
    frac = ms.get("salient_fraction")
    if ms.get("saliency_used"):
        add(f"- Saliency-aware metrics: the salient region is the top {frac:.0%} of pixels of "
            f"the original image ranked by the saliency model `{ms['saliency_used']}` (exactly "
            f"that share of pixels; ties broken in raster order). PSNR inside/outside is "
            "computed from the MSE over the region's pixels; LPIPS inside/outside is the mean "
            "of LPIPS's spatial distance map over the region.")
    if ms.get("groups"):
        add("- Metric models and weight fingerprints (sha256 prefix of the state dict; cached "
            "scores are reused only for these): " + ", ".join(f"`{g}`" for g in ms["groups"])
            + ".")
    for note in ctx.metric_notes:
        add(f"- Note: {note}")
    add("- Encode/decode times are wall-clock seconds per image in this process, including "
        "file (de)serialisation; for HEVC they include starting the ffmpeg process. They were "
        "measured on a shared CPU and are indicative only.")
    add("")
    add(f"## Bjontegaard deltas against `{ctx.anchor}`\n")
    add("BD-rate: average rate change at equal quality, in percent (negative = fewer bits "
        "than the anchor). BD-quality: average quality change at equal rate, test minus "
        "anchor, in the metric's units (positive is better for PSNR/MS-SSIM, negative for "
        "LPIPS). Computed on the mean curves over the rate interval both curves cover; "
        "n/a = the curves do not overlap. Two interpolations: **PCHIP** (piecewise cubic "
        "Hermite through every point, as in the JVET CTC sheets) and **cubic** (Bjontegaard's "
        "original least-squares cubic polynomial, VCEG-M33).\n")
    for kind in ("rate", "quality"):
        for method in METHODS:
            df = ctx.bd.get((kind, method))
            if df is None or df.empty:
                continue
            shown = _labelled(df)
            title = "BD-rate [%]" if kind == "rate" else "BD-quality"
            add(f"### {title}, {method.upper() if method == 'pchip' else 'cubic'}\n")
            add(md_table(shown, digits=2 if kind == "rate" else 3))
            add("")
    if ctx.paired_bd is not None and not ctx.paired_bd.empty:
        add("### BD-rate [%] against each codec's own anchor, PCHIP\n")
        add("Requested with `--pairs`: each row compares one codec with the anchor named "
            "beside it (e.g. a sandwich with the plain codec it wraps), same method as "
            "above.\n")
        add(md_table(_labelled(ctx.paired_bd.reset_index().set_index("codec")), digits=2))
        add("")
    if ctx.matched is not None and not ctx.matched.empty:
        add("## Each `--pairs` codec next to its anchor at the same rate\n")
        add("The test codec's points, then the anchor's mean curve interpolated (linearly in "
            "log-rate) at each of those rates; the anchor rows carry the test point's "
            "quality. n/a = outside the anchor's rate range. Also in "
            "`matched_rate_pairs.csv`.\n")
        for pair, d in ctx.matched.groupby("pair", sort=False):
            add(f"### {pair}\n")
            add(md_table(_labelled(d.drop(columns="pair").set_index("codec")), digits=4))
            add("")
    add("## Rate-distortion curves\n")
    if "overview" in ctx.plots:
        add(f"![overview]({rel(ctx.plots['overview'])})\n")
    others = [(m, p) for m, p in ctx.plots.items() if m != "overview"]
    if others:
        add("Per metric: " + ", ".join(f"[{_label(m)}]({rel(p)})" for m, p in others) + ".\n")
    if ctx.grid is not None:
        add("## Visual comparison at matched rate\n")
        if ctx.grid_note:
            add(ctx.grid_note + "\n")
        add(f"![crops]({rel(ctx.grid)})\n")
        if ctx.grid_points:
            add(md_table(pd.DataFrame(ctx.grid_points).set_index("codec")))
            add("")
    add("## Timing (mean over all points)\n")
    if not ctx.timing.empty:
        add(md_table(ctx.timing, digits=3))
        add("")
    add("## All points (means over images)\n")
    cols = ["codec", "quality", "n_images", "bpp"] + [
        m for m in METRIC_INFO if m in ctx.per_codec.columns]
    table = ctx.per_codec[cols].set_index("codec")
    table = _labelled(table)
    add(md_table(table, digits=4))
    add("")
    add("## Files\n")
    add("- `per_image.csv`: one row per (image, codec, quality). `per_codec.csv`: means per "
        "(codec, quality). `json/*.json`: CompressAI's results schema (load with "
        "`python -m compressai.utils.plot -f json/*.json`). `bd/*.csv`: the BD tables above. "
        "`plots/`: the figures.")
    if ctx.failures:
        add("\n## Failures\n")
        for f in ctx.failures[:50]:
            add(f"- {f}")
        if len(ctx.failures) > 50:
            add(f"- ... and {len(ctx.failures) - 50} more")
    for note in ctx.extra_notes:
        add(f"\n{note}")
    return "\n".join(lines) + "\n"


def default_anchor(codecs: Sequence[str]) -> str:
    """HEVC intra (the BPG anchor learned-codec papers use) when run, else JPEG, else first."""
    for name in ("hevc", "jpeg"):
        if name in codecs:
            return name
    return codecs[0]
