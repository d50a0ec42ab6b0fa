"""Kodak-style RD comparison of sandwich models against their own plain codec.

``python -m benchmarks.sandwich_rd DATA -o OUT --models sandwich-jpeg,sandwich-jpeg-mse``

Each sandwich file is the one ``pcodec compress`` writes (``perceptual_codec.sandwich.api``)
and is decoded by ``decompress_sandwich``; the anchor is the very same encoder (same library,
tables/settings, chroma subsampling, Huffman optimisation or AVIF speed) without the
networks, over a denser quality sweep. Metrics on the 8-bit decodes: RGB PSNR, LPIPS-Alex
and LPIPS-Comp (when its weights are installed). BD-rates (pchip, log rate) come from
:mod:`benchmarks.bdrate` on the per-quality means; LPIPS curves use -LPIPS as the quality.
Every (codec, image, quality) point is cached in OUT/cache/*.jsonl, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

PLAIN_SWEEPS = {
    "jpeg": (3, 5, 8, 10, 15, 20, 30, 40, 55, 75, 85),
    "avif": (22, 28, 34, 40, 46, 52, 58, 64, 70, 76, 82),
}
METRICS = ("psnr", "lpips_alex", "lpips_comp")


def _images(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".ppm"))
    return files[:limit] if limit else files


class Metrics:
    """PSNR + the LPIPS metrics that can be loaded here."""

    def __init__(self) -> None:
        import warnings

        from twoafc import load_metric

        self.nets = {}
        for key, name in (("lpips_alex", "lpips-alex"), ("lpips_comp", "lpips-comp")):
            try:
                self.nets[key] = load_metric(name)
            except Exception as exc:  # weights not installed: say so, skip the column
                warnings.warn(f"{name} unavailable, column skipped: {exc}", stacklevel=2)

    @torch.no_grad()
    def __call__(self, ref: np.ndarray, dec: np.ndarray) -> dict[str, float]:
        from benchmarks.metrics import psnr

        out = {"psnr": float(psnr(ref, dec))}
        x = torch.from_numpy(ref).permute(2, 0, 1)[None].float() / 255
        y = torch.from_numpy(dec).permute(2, 0, 1)[None].float() / 255
        for key, net in self.nets.items():
            out[key] = float(net(y, x, normalize=True).mean())
        return out


class Cache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[tuple, dict] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    self.rows[(r["image"], r["q"])] = r

    def add(self, row: dict) -> None:
        self.rows[(row["image"], row["q"])] = row
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


def _run_codec(label, qualities, images, encode_decode, metrics, cache_dir: Path) -> list[dict]:
    from tqdm import tqdm

    from perceptual_codec.core.io import load_image_array

    cache = Cache(cache_dir / f"{label}.jsonl")
    todo = [(p, q) for p in images for q in qualities if (p.stem, q) not in cache.rows]
    for p, q in tqdm(todo, desc=label, disable=not todo):
        ref = load_image_array(p)
        t0 = time.perf_counter()
        data, dec = encode_decode(ref, q)
        row = {"image": p.stem, "q": q, "bytes": len(data),
               "bpp": 8 * len(data) / (ref.shape[0] * ref.shape[1]),
               "seconds": time.perf_counter() - t0, **metrics(ref, dec)}
        cache.add(row)
    return [cache.rows[(p.stem, q)] for p in images for q in qualities]


def _curve(rows: list[dict], metric: str) -> tuple[list[float], list[float]]:
    qs = sorted({r["q"] for r in rows})
    rate = [float(np.mean([r["bpp"] for r in rows if r["q"] == q])) for q in qs]
    vals = [float(np.mean([r[metric] for r in rows if r["q"] == q])) for q in qs]
    return rate, vals


def evaluate(data: Path, out: Path, models: Sequence[str], limit: int | None = None) -> dict:
    from benchmarks.bdrate import BDError, bd_rate
    from perceptual_codec.sandwich import api
    from perceptual_codec.sandwich.zoo import load_sandwich

    images = _images(data, limit)
    cache_dir = out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    summary: dict = {"images": len(images), "data": str(data), "models": {}}
    plain_done: dict[str, list[dict]] = {}
    for name in models:
        net, _, _ = load_sandwich(name, 1)
        codec = net.codec
        fmt = codec.format_name
        if fmt not in plain_done:
            sweep = sorted(set(PLAIN_SWEEPS[fmt]) | set(codec.qualities))
            plain_done[fmt] = _run_codec(
                f"{fmt}-plain", sweep, images,
                lambda a, q, c=codec: (d := c.encode(a, q), np.asarray(c.decode(d))),
                metrics, cache_dir)
        levels = list(range(1, net.levels + 1))

        def sandwich(a, level, name=name):
            d = api.compress_sandwich(a, model=name, quality=level)
            return d, api.decompress_sandwich(d)

        rows = _run_codec(name, levels, images, sandwich, metrics, cache_dir)
        plain = plain_done[fmt]
        entry: dict = {"codec": fmt, "ladder": list(codec.qualities), "levels": []}
        for level, q in zip(levels, codec.qualities, strict=True):
            mine = [r for r in rows if r["q"] == level]
            ref = [r for r in plain if r["q"] == q]
            entry["levels"].append({
                "quality": level, "codec_quality": q,
                **{f"{k}": float(np.mean([r[k] for r in mine])) for k in ("bpp", *_present(mine))},
                **{f"plain_{k}": float(np.mean([r[k] for r in ref])) for k in ("bpp", *_present(ref))},
            })
        for metric in _present(rows):
            sign = -1.0 if metric.startswith("lpips") else 1.0
            ra, qa = _curve(plain, metric)
            rt, qt = _curve(rows, metric)
            try:
                bd = bd_rate(ra, [sign * v for v in qa], rt, [sign * v for v in qt])
            except BDError:
                bd = math.nan
            entry[f"bd_rate_{metric}"] = bd
        summary["models"][name] = entry
        summary[f"{fmt}_plain_curve"] = {m: _curve(plain, m) for m in _present(plain)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "table.md").write_text(markdown(summary))
    return summary


def _present(rows: list[dict]) -> list[str]:
    return [m for m in METRICS if rows and m in rows[0]]


def markdown(summary: dict) -> str:
    lines = [f"Images: {summary['images']} ({summary['data']})", ""]
    lines += ["| model | BD-rate PSNR | BD-rate LPIPS-Alex | BD-rate LPIPS-Comp |",
              "|---|---|---|---|"]
    for name, e in summary["models"].items():
        cells = [e.get(f"bd_rate_{m}") for m in METRICS]
        lines.append(f"| {name} vs plain {e['codec'].upper()} | "
                     + " | ".join("n/a" if c is None or math.isnan(c) else f"{c:+.1f}%" for c in cells)
                     + " |")
    lines.append("")
    for name, e in summary["models"].items():
        lines += [f"**{name}** (per ladder step; plain = same codec setting without networks)", "",
                  "| quality | codec q | bpp | PSNR | LPIPS-Alex | LPIPS-Comp | plain bpp | plain PSNR "
                  "| plain LPIPS-Alex | plain LPIPS-Comp |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for lv in e["levels"]:
            def f(k, fmt=".4f", lv=lv):
                v = lv.get(k)
                return "n/a" if v is None else format(v, fmt)
            lines.append(
                f"| {lv['quality']} | {lv['codec_quality']} | {f('bpp', '.3f')} | {f('psnr', '.2f')} | "
                f"{f('lpips_alex')} | {f('lpips_comp')} | {f('plain_bpp', '.3f')} | "
                f"{f('plain_psnr', '.2f')} | {f('plain_lpips_alex')} | {f('plain_lpips_comp')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="folder of test images (e.g. Kodak)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--models", default="sandwich-jpeg,sandwich-jpeg-mse,sandwich-avif,sandwich-avif-mse")
    p.add_argument("--limit", type=int, help="first N images only")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    summary = evaluate(args.data, args.output, [m for m in args.models.split(",") if m], args.limit)
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
