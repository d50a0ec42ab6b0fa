"""Tables, CompressAI-style JSON, plots and the Markdown report of a COCO benchmark run."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.bdrate import bd_table
from perceptual_codec.core.atomic import atomic_write_bytes, atomic_write_text

#: column -> (CompressAI JSON key, label, higher is better)
COLUMNS: dict[str, tuple[str, str, bool]] = {
    **{f"bbox_{k}": (f"map{s}-bbox", f"box {k} [%]", True)
       for k, s in (("AP", ""), ("AP50", "50"), ("AP75", "75"), ("APs", "s"), ("APm", "m"), ("APl", "l"))},
    **{f"segm_{k}": (f"map{s}-segm", f"mask {k} [%]", True)
       for k, s in (("AP", ""), ("AP50", "50"), ("AP75", "75"), ("APs", "s"), ("APm", "m"), ("APl", "l"))},
    "top1_agreement": ("top1-agreement", "ImageNet top-1 agreement [%]", True),
    "top5_agreement": ("top5-agreement", "original top-1 in top-5 [%]", True),
    "kl": ("kl-imagenet", "mean KL(original || decoded) [nats]", False),
}
#: columns that get BD deltas and a plot
HEADLINE = ("bbox_AP", "segm_AP", "top1_agreement", "kl")
ORIGINAL = "original"


def frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def _clean(values: Any) -> list:
    out = []
    for v in values:
        v = v.item() if hasattr(v, "item") else v
        out.append(None if isinstance(v, float) and not math.isfinite(v) else v)
    return out


def compressai_json(df: pd.DataFrame, codec: str, description: str = "") -> dict[str, Any]:
    """``{"name", "description", "results": {"bpp": [...], "map-bbox": [...], ...}}``."""
    d = df[df["codec"] == codec].sort_values("bpp")
    results: dict[str, list] = {"bpp": _clean(d["bpp"])}
    for col, (key, _, _) in COLUMNS.items():
        if col in d.columns and d[col].notna().any():
            results[key] = _clean(d[col])
    results["quality"] = _clean(d["quality"])
    return {"name": codec, "description": description, "results": results}


def curves(df: pd.DataFrame, column: str) -> dict[str, tuple[list, list]]:
    out = {}
    for codec, d in df[df["codec"] != ORIGINAL].groupby("codec", sort=False):
        d = d[["bpp", column]].dropna()
        out[str(codec)] = (d["bpp"].tolist(), d[column].tolist())
    return out


def bd_deltas(df: pd.DataFrame, anchor: str, method: str = "pchip") -> pd.DataFrame:
    """BD-quality (metric units at equal rate) and BD-rate (% at equal metric) vs ``anchor``."""
    codecs = [c for c in dict.fromkeys(df["codec"]) if c != ORIGINAL]
    table: dict[str, dict[str, float]] = {}
    for col in HEADLINE:
        if col not in df.columns or not df[col].notna().any():
            continue
        c = curves(df, col)
        if anchor not in c:
            continue
        key = COLUMNS[col][0]
        table[f"BD-{key}"] = bd_table(c, anchor, method=method, kind="quality", codecs=codecs)
        table[f"BD-rate@{key} [%]"] = bd_table(c, anchor, method=method, kind="rate", codecs=codecs)
    return pd.DataFrame(table, index=codecs).rename_axis("codec")


def plot(df: pd.DataFrame, path: Path) -> list[str]:
    """mAP (and classification consistency) vs bpp, one line per codec; returns panel names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [c for c in HEADLINE if c in df.columns and df[c].notna().any()]
    if not panels:
        return []
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    ref = df[df["codec"] == ORIGINAL]
    for ax, col in zip(axes[0], panels, strict=True):
        for codec, d in df[df["codec"] != ORIGINAL].groupby("codec", sort=False):
            d = d.sort_values("bpp")
            ax.plot(d["bpp"], d[col], marker="o", ms=3, label=str(codec))
        if len(ref) and math.isfinite(float(ref[col].iloc[0])) and col != "kl":
            ax.axhline(float(ref[col].iloc[0]), color="k", ls="--", lw=1, label="original")
        if col == "kl":
            ax.set_yscale("log")
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(COLUMNS[col][1])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return panels


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if digits >= 0 else f"{v:g}"
    return str(v)


def markdown_table(df: pd.DataFrame, columns: Sequence[str], digits: dict[str, int] | None = None) -> str:
    digits = digits or {}
    head = "| " + " | ".join(columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    lines = [head, sep]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c], digits.get(c, 2)) for c in columns) + " |")
    return "\n".join(lines)


def write_outputs(
    rows: Sequence[dict[str, Any]],
    out_dir: Path,
    *,
    command: str,
    anchor: str | None,
    meta: dict[str, Any],
    notes: Sequence[str] = (),
) -> dict[str, Path]:
    """CSV, per-codec JSON, plot, BD table and ``report.md`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    df = frame(rows)
    paths: dict[str, Path] = {}
    csv = out_dir / "coco_results.csv"
    atomic_write_text(csv, df.to_csv(index=False, float_format="%.6g"))
    paths["csv"] = csv
    json_dir = out_dir / "json"
    json_dir.mkdir(exist_ok=True)
    for codec in dict.fromkeys(df["codec"]):
        doc = compressai_json(df, codec, description=meta.get("description", ""))
        p = json_dir / f"{codec}.json"
        atomic_write_text(p, json.dumps(doc, indent=2) + "\n")
        paths[f"json:{codec}"] = p
    codecs = [c for c in dict.fromkeys(df["codec"]) if c != ORIGINAL]
    if anchor is None and codecs:
        anchor = "jpeg" if "jpeg" in codecs else codecs[0]
    bd = bd_deltas(df, anchor) if anchor in codecs else pd.DataFrame()
    if not bd.empty:
        p = out_dir / "bd_deltas.csv"
        atomic_write_text(p, bd.to_csv(float_format="%.4g"))
        paths["bd"] = p
    plot_path = out_dir / "map_vs_bpp.png"
    if plot(df, plot_path):
        paths["plot"] = plot_path
    atomic_write_text(out_dir / "meta.json", json.dumps({**meta, "command": command}, indent=2, default=str) + "\n")
    report = out_dir / "report.md"
    atomic_write_text(report, _report_text(df, bd, anchor, command, meta, notes, paths, out_dir))
    paths["report"] = report
    return paths


def _report_text(df: pd.DataFrame, bd: pd.DataFrame, anchor: str | None, command: str,
                 meta: dict[str, Any], notes: Sequence[str], paths: dict[str, Path], out_dir: Path) -> str:
    lines = [f"# {meta.get('title', 'Downstream benchmark on COCO')}", ""]
    lines += ["Produced by:", "", "```", command, "```", ""]
    for key in ("date", "data", "images", "annotations", "detector", "classifier", "codecs",
                "skipped_codecs", "device", "versions", "wall_time"):
        if key in meta and meta[key] not in (None, "", [], {}):
            lines.append(f"- **{key.replace('_', ' ')}**: {meta[key]}")
    lines.append("")
    if notes:
        lines += ["## Read this first", ""] + [f"- {n}" for n in notes] + [""]
    cols = ["codec", "quality", "bpp"]
    cols += [c for c in ("bbox_AP", "bbox_AP50", "bbox_AP75", "bbox_APs", "bbox_APm", "bbox_APl",
                         "segm_AP", "segm_AP50", "segm_AP75") if c in df.columns]
    cols += [c for c in ("top1_agreement", "top5_agreement", "kl") if c in df.columns]
    lines += ["## Results", "",
              "bpp: mean over images of the real file's bits per pixel (the `original` row is the "
              "stored COCO JPEG). AP columns: COCOeval, percent. Agreement: percent of images whose "
              "EfficientNet-Lite0 top-1 class is unchanged; KL in nats.", ""]
    lines.append(markdown_table(df, cols, digits={"bpp": 3, "kl": 4, "quality": -1}))
    lines.append("")
    if not bd.empty:
        lines += [f"## Bjontegaard deltas against {anchor} (pchip)", "",
                  "BD-map-*: mean AP difference in points at equal rate (positive is better); "
                  "BD-top1-agreement in points; BD-kl-imagenet in nats (negative is better); "
                  "BD-rate@X: mean rate difference in percent at equal X (negative is better). "
                  "– means the curves do not overlap.", ""]
        bd_df = bd.reset_index()
        lines.append(markdown_table(bd_df, list(bd_df.columns), digits={c: 3 for c in bd_df.columns}))
        lines.append("")
    if "plot" in paths:
        lines += ["## Plots", "", f"![mAP and consistency vs bpp]({paths['plot'].relative_to(out_dir)})", ""]
    lines += ["## Files", ""]
    lines += [f"- `{p.relative_to(out_dir)}`" for k, p in paths.items() if k != "report"]
    lines.append("")
    return "\n".join(lines)
