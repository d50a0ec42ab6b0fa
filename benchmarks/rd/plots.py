"""Rate-distortion plots and a visual comparison of crops at matched rates (PNG, Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.codecs.base import CodecAdapter
from benchmarks.rd.tables import METRIC_INFO
from perceptual_codec.core.atomic import atomic_write_bytes

STANDARD = {"jpeg", "webp", "avif", "jpeg2000", "jpegxl", "hevc"}


def _save(fig, path: Path, dpi: int = 130) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def _styles(codecs: Sequence[str], kinds: dict[str, str]) -> dict[str, dict]:
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10" if len(codecs) <= 10 else "tab20")
    out = {}
    for i, c in enumerate(codecs):
        standard = kinds.get(c, c) in STANDARD
        out[c] = {"color": cmap(i % cmap.N), "linestyle": "--" if standard else "-",
                  "marker": "o" if standard else "s", "markersize": 3.5, "linewidth": 1.3}
    return out


def rd_plots(per_codec: pd.DataFrame, metrics: Sequence[str], out_dir: Path, title: str,
             kinds: dict[str, str] | None = None, max_bpp: float = 2.0) -> dict[str, Path]:
    """One PNG per metric (quality vs bpp, standard codecs dashed), plus an overview grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    codecs = list(dict.fromkeys(per_codec["codec"]))
    styles = _styles(codecs, kinds or {})
    paths: dict[str, Path] = {}

    def draw(ax, metric: str) -> None:
        label, higher = METRIC_INFO[metric][1], METRIC_INFO[metric][2]
        lo, hi = np.inf, -np.inf
        for c in codecs:
            d = per_codec[(per_codec["codec"] == c)].sort_values("bpp")[["bpp", metric]].dropna()
            if d.empty:
                continue
            ax.plot(d["bpp"], d[metric], label=c, **styles[c])
            inside = d[d["bpp"] <= max_bpp * 1.05][metric]
            if not inside.empty:
                lo, hi = min(lo, inside.min()), max(hi, inside.max())
        ax.set_xlim(0, max_bpp)
        if np.isfinite(lo) and hi > lo:
            pad = 0.04 * (hi - lo)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("bits per pixel (real file size)")
        ax.set_ylabel(label + ("" if higher else " (lower is better)"))
        ax.grid(True, alpha=0.3)

    for metric in metrics:
        fig, ax = plt.subplots(figsize=(7, 4.8))
        draw(ax, metric)
        ax.set_title(f"{title}: {METRIC_INFO[metric][1]}")
        ax.legend(fontsize=8, loc="best")
        paths[metric] = _save(fig, out_dir / f"rd_{metric}.png")
        plt.close(fig)

    main = [m for m in ("psnr_rgb", "ms_ssim_db", "lpips_alex", "lpips_comp") if m in metrics]
    if main:
        cols = 2 if len(main) > 1 else 1
        rows = (len(main) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.3 * rows), squeeze=False)
        for ax, m in zip(axes.ravel(), main, strict=False):
            draw(ax, m)
            ax.set_title(METRIC_INFO[m][1])
        for ax in axes.ravel()[len(main):]:
            ax.axis("off")
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8,
                   bbox_to_anchor=(0.5, -0.02))
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.05, 1, 0.97))
        paths["overview"] = _save(fig, out_dir / "rd_overview.png")
        plt.close(fig)
    return paths


def crop_box(shape: tuple[int, int], size: int, mask: np.ndarray | None) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop centred on the salient region's centroid (or the centre)."""
    h, w = shape
    ch, cw = min(size, h), min(size, w)
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        cy, cx = int(ys.mean()), int(xs.mean())
    else:
        cy, cx = h // 2, w // 2
    top = int(np.clip(cy - ch // 2, 0, h - ch))
    left = int(np.clip(cx - cw // 2, 0, w - cw))
    return top, left, ch, cw


def matched_quality(per_image: pd.DataFrame, image: str, codec: str, target_bpp: float):
    """(quality, bpp) of the codec's point on ``image`` closest to ``target_bpp`` in log-rate."""
    d = per_image[(per_image["image"] == image) & (per_image["codec"] == codec)]
    if d.empty:
        return None
    i = (np.log(d["bpp"]) - np.log(target_bpp)).abs().idxmin()
    return d.loc[i, "quality"], float(d.loc[i, "bpp"])


def crop_grid(original: np.ndarray, codecs: Sequence[CodecAdapter], per_image: pd.DataFrame,
              image_name: str, target_bpp: float, path: Path, crop: int = 256,
              mask: np.ndarray | None = None) -> tuple[Path, list[dict]]:
    """Crops of every codec's decode at the quality whose rate on this image is closest to
    ``target_bpp`` (re-encoded here, so the pixels are the real decode), next to the original."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.metrics import psnr

    top, left, ch, cw = crop_box(original.shape[:2], crop, mask)
    panels = [("original", original, "")]
    chosen = []
    for codec in codecs:
        m = matched_quality(per_image, image_name, codec.label, target_bpp)
        if m is None:
            continue
        q, _ = m
        try:
            rt = codec.roundtrip(original, q)
        except Exception as exc:  # noqa: BLE001 - one codec must not sink the figure
            chosen.append({"codec": codec.label, "quality": q, "bpp": float("nan"),
                           "psnr_rgb": float("nan"), "error": str(exc)[:120]})
            continue
        info = {"codec": codec.label, "quality": q, "bpp": rt.bpp(),
                "psnr_rgb": psnr(original, rt.decoded)}
        chosen.append(info)
        panels.append((codec.label, rt.decoded, f"q={q}  {info['bpp']:.3f} bpp  {info['psnr_rgb']:.2f} dB"))
    cols = min(4, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.95 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (name, img, sub) in zip(axes.ravel(), panels, strict=False):
        ax.imshow(img[top:top + ch, left:left + cw], interpolation="nearest")
        ax.set_title(f"{name}\n{sub}" if sub else name, fontsize=8)
    fig.suptitle(f"{image_name}: {ch}x{cw} crop at ({top},{left}), codecs near {target_bpp:g} bpp",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if rows == 1 else 0.96))
    _save(fig, path, dpi=110)
    plt.close(fig)
    return path, chosen
