"""From cached records to tables: per image, per (codec, quality), CompressAI-style JSON and
Bjontegaard deltas.

Per-codec points average each metric over images (PSNR averaged in dB, as CompressAI's
``eval_model`` does), and bpp is the mean of the per-image bpp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bdrate import METHODS, BDError, bd_rate, bd_table

#: column -> (CompressAI JSON key, human label, higher is better)
METRIC_INFO: dict[str, tuple[str, str, bool]] = {
    "psnr_rgb": ("psnr-rgb", "PSNR-RGB [dB]", True),
    "ms_ssim": ("ms-ssim-rgb", "MS-SSIM", True),
    "ms_ssim_db": ("msssim-db", "MS-SSIM [dB]", True),
    "lpips_alex": ("lpips-alex", "LPIPS-alex", False),
    "lpips_comp": ("lpips-comp", "LPIPS-Comp", False),
    "psnr_sal_in": ("psnr-salient", "PSNR salient region [dB]", True),
    "psnr_sal_out": ("psnr-nonsalient", "PSNR outside salient region [dB]", True),
    "lpips_alex_sal_in": ("lpips-alex-salient", "LPIPS-alex salient region", False),
    "lpips_alex_sal_out": ("lpips-alex-nonsalient", "LPIPS-alex outside salient region", False),
    "lpips_comp_sal_in": ("lpips-comp-salient", "LPIPS-Comp salient region", False),
    "lpips_comp_sal_out": ("lpips-comp-nonsalient", "LPIPS-Comp outside salient region", False),
}
TIME_COLUMNS = {"encode_s": "encoding_time", "decode_s": "decoding_time"}
ID_COLUMNS = ["image", "image_key", "codec", "codec_name", "quality", "height", "width"]


def per_image_frame(records: Sequence[dict]) -> pd.DataFrame:
    """One row per (image, codec, quality), private cache fields dropped."""
    df = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in records])
    if df.empty:
        return df
    metric_cols = [c for c in METRIC_INFO if c in df.columns]
    order = [c for c in ID_COLUMNS if c in df.columns] + ["bytes", "bpp"] + metric_cols
    order += [c for c in TIME_COLUMNS if c in df.columns]
    order += [c for c in df.columns if c not in order]
    return df[order].sort_values(["codec", "image", "bpp"]).reset_index(drop=True)


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Metric columns present with at least one finite value."""
    return [c for c in METRIC_INFO if c in df.columns and df[c].notna().any()]


def per_codec_frame(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean over images of every numeric column per (codec, quality), sorted by rate."""
    if per_image.empty:
        return per_image
    value_cols = ["bytes", "bpp", *metric_columns(per_image),
                  *[c for c in TIME_COLUMNS if c in per_image.columns]]
    g = per_image.groupby(["codec", "quality"], sort=False)
    out = g[value_cols].mean()
    out.insert(0, "n_images", g.size())
    out = out.reset_index()
    return out.sort_values(["codec", "bpp"]).reset_index(drop=True)


def compressai_json(per_codec: pd.DataFrame, codec: str, description: str = "") -> dict[str, Any]:
    """CompressAI's results schema: ``{"name", "description", "results": {"bpp": [...],
    "psnr-rgb": [...], "ms-ssim-rgb": [...], ...}}`` (lists aligned, sorted by bpp)."""
    d = per_codec[per_codec["codec"] == codec].sort_values("bpp")

    def clean(values: Any) -> list:
        return [None if isinstance(v, float) and not math.isfinite(v) else v
                for v in (x.item() if hasattr(x, "item") else x for x in values)]

    results: dict[str, list] = {"bpp": clean(d["bpp"])}
    for col, (key, _, _) in METRIC_INFO.items():
        if col in d.columns and d[col].notna().any():
            results[key] = clean(d[col])
    for col, key in TIME_COLUMNS.items():
        if col in d.columns:
            results[key] = clean(d[col])
    results["quality"] = clean(d["quality"])
    return {"name": codec, "description": description, "results": results}


def curves(per_codec: pd.DataFrame, metric: str) -> dict[str, tuple[list, list]]:
    out = {}
    for codec, d in per_codec.groupby("codec", sort=False):
        d = d[["bpp", metric]].dropna()
        out[str(codec)] = (d["bpp"].tolist(), d[metric].tolist())
    return out


def bd_frames(per_codec: pd.DataFrame, anchor: str,
              metrics: Sequence[str] | None = None) -> dict[tuple[str, str], pd.DataFrame]:
    """{(kind, method): codec x metric table} for kind in rate/quality, method in METHODS."""
    metrics = list(metrics) if metrics is not None else metric_columns(per_codec)
    codecs = list(dict.fromkeys(per_codec["codec"]))
    out = {}
    for kind in ("rate", "quality"):
        for method in METHODS:
            table = {}
            for m in metrics:
                c = curves(per_codec, m)
                if anchor not in c:
                    continue
                table[m] = bd_table(c, anchor, method=method, kind=kind, codecs=codecs)
            out[(kind, method)] = pd.DataFrame(table, index=codecs).rename_axis("codec")
    return out


def parse_pairs(text: str | None) -> list[tuple[str, str]]:
    """``"TEST:ANCHOR,TEST:ANCHOR"`` -> [(test, anchor), ...] (codec labels)."""
    pairs = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        parts = [x.strip() for x in item.split(":")]
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"--pairs entry {item!r} is not TEST:ANCHOR (two codec labels)")
        pairs.append((parts[0], parts[1]))
    return pairs


def pair_bd_frame(per_codec: pd.DataFrame, pairs: Sequence[tuple[str, str]],
                  metrics: Sequence[str] | None = None, method: str = "pchip") -> pd.DataFrame:
    """BD-rate [%] of each test codec against its own anchor (e.g. a sandwich against the
    plain codec it wraps), one row per pair, one column per metric; NaN where the curves do
    not overlap."""
    metrics = list(metrics) if metrics is not None else metric_columns(per_codec)
    by_metric = {m: curves(per_codec, m) for m in metrics}
    rows = []
    for test, anchor in pairs:
        row: dict[str, Any] = {"codec": test, "anchor": anchor}
        for m in metrics:
            c = by_metric[m]
            try:
                row[m] = bd_rate(*c[anchor], *c[test], method=method)
            except (BDError, KeyError):
                row[m] = math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["codec", "anchor", *metrics]).set_index(["codec", "anchor"])


def matched_rate_frame(per_codec: pd.DataFrame, pairs: Sequence[tuple[str, str]],
                       metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """For each pair, the test codec's points, then its anchor at the same bpp: the anchor's
    mean curve interpolated linearly in log-rate (NaN outside the anchor's rate range).
    Anchor rows carry the test point's quality and bpp."""
    metrics = list(metrics) if metrics is not None else metric_columns(per_codec)
    rows = []
    for test, anchor in pairs:
        a = per_codec[per_codec["codec"] == anchor].sort_values("bpp")
        t = per_codec[per_codec["codec"] == test].sort_values("quality")
        base = {"pair": f"{test} vs {anchor}"}
        for _, point in t.iterrows():
            rows.append({**base, "codec": test, "quality": point["quality"],
                         "bpp": point["bpp"], **{m: point[m] for m in metrics}})
        for _, point in t.iterrows():
            row = {**base, "codec": anchor, "quality": point["quality"], "bpp": point["bpp"]}
            for m in metrics:
                ok = a[["bpp", m]].dropna()
                inside = len(ok) > 1 and ok["bpp"].min() <= point["bpp"] <= ok["bpp"].max()
                row[m] = (float(np.interp(np.log(point["bpp"]), np.log(ok["bpp"]), ok[m]))
                          if inside else math.nan)
            rows.append(row)
    return pd.DataFrame(rows, columns=["pair", "codec", "quality", "bpp", *metrics])


def timing_frame(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean encode/decode seconds and megapixels per second, per codec."""
    g = per_image.groupby("codec", sort=False)
    mp = (per_image["height"] * per_image["width"] / 1e6).groupby(per_image["codec"]).mean()
    t = g[["encode_s", "decode_s"]].mean()
    t["encode_mp_per_s"] = mp / t["encode_s"]
    t["decode_mp_per_s"] = mp / t["decode_s"]
    return t
