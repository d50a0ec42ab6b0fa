"""Fit a proxy's rate model (and AVIF's stand-in step) to the real codec.

``python -m perceptual_codec.sandwich.calibrate --codec jpeg DIR`` encodes random crops of
the images in DIR with the real codec at every ladder quality, then

* fits the rate weights by non-negative least squares of real file bits on the proxy's
  rate features, and reports the Pearson correlation of estimate vs real size;
* for AVIF, first picks for each quality the stand-in step whose MSE matches the real
  codec's (bisection in log-step).

The numbers printed are the defaults written into the proxy modules.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from perceptual_codec.sandwich.proxies.base import CodecProxy, uint8_to_tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")


def random_crops(
    folder: Path, count: int, sizes: Sequence[int] = (96, 128, 192, 256), seed: int = 0
) -> list[np.ndarray]:
    """Random crops of random sizes (so the rate fit sees a range of areas)."""
    from PIL import Image

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images under {folder}")
    rng = random.Random(seed)
    crops = []
    for _ in range(count):
        with Image.open(rng.choice(files)) as im:
            a = np.asarray(im.convert("RGB"))
        s = rng.choice(sizes)
        h, w = min(s, a.shape[0]), min(rng.choice(sizes), a.shape[1])
        y, x = rng.randrange(a.shape[0] - h + 1), rng.randrange(a.shape[1] - w + 1)
        crops.append(np.ascontiguousarray(a[y : y + h, x : x + w]))
    return crops


@torch.no_grad()
def rate_samples(
    proxy: CodecProxy, images: Sequence[np.ndarray], qualities: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(features (M,K), real bits (M,)) over every image x quality."""
    feats, bits = [], []
    proxy.eval()
    for q in qualities:
        for a in images:
            _, f = proxy.simulate_with_features(uint8_to_tensor(a)[None], q)
            feats.append(f[0].numpy())
            bits.append(8 * len(proxy.encode(a, q)))
    return np.asarray(feats, dtype=np.float64), np.asarray(bits, dtype=np.float64)


def fit_rate_weights(
    proxy: CodecProxy, images: Sequence[np.ndarray], qualities: Sequence[int] | None = None
) -> tuple[list[float], float]:
    """Non-negative least-squares rate weights and the correlation they reach."""
    from scipy.optimize import nnls

    feats, bits = rate_samples(proxy, images, qualities or proxy.qualities)
    weights, _ = nnls(feats, bits)
    est = feats @ weights
    return [float(w) for w in weights], float(np.corrcoef(est, bits)[0, 1])


@torch.no_grad()
def fit_avif_steps(
    proxy, images: Sequence[np.ndarray], qualities: Sequence[int]
) -> dict[int, float]:
    """For each AVIF quality, the stand-in luma step whose MSE equals real AVIF's."""
    xs = [uint8_to_tensor(a)[None] for a in images]
    out = {}
    for q in qualities:
        real = np.mean(
            [np.mean((proxy.decode(proxy.encode(a, q)).astype(np.float64) - a) ** 2) for a in images]
        )
        lo, hi = np.log(0.5), np.log(400.0)
        for _ in range(12):
            mid = 0.5 * (lo + hi)
            proxy.step_table = {q: float(np.exp(mid))}
            mse = np.mean([float(((proxy.simulate(x, q)[0] - x) ** 2).mean()) * 255**2 for x in xs])
            lo, hi = (mid, hi) if mse < real else (lo, mid)
        out[int(q)] = float(np.exp(0.5 * (lo + hi)))
    proxy.step_table = out
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from perceptual_codec.sandwich.proxies import PROXIES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="training images (never the test set)")
    parser.add_argument("--codec", choices=sorted(PROXIES), default="jpeg")
    parser.add_argument("--subsampling", default="4:2:0")
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--qualities", type=int, nargs="*")
    args = parser.parse_args(argv)
    images = random_crops(args.folder, args.count)
    kwargs = {"real_forward": False}
    if args.codec == "jpeg":
        kwargs["subsampling"] = args.subsampling
    proxy = PROXIES[args.codec](**kwargs)
    qualities = args.qualities or proxy.qualities
    if args.codec == "avif":
        steps = fit_avif_steps(proxy, images[:8], sorted(set(qualities) | {20, 90}))
        print("step_table:", {k: round(v, 3) for k, v in steps.items()})
    weights, corr = fit_rate_weights(proxy, images, qualities)
    print("rate_weights:", [round(w, 4) for w in weights], f"pearson r = {corr:.4f}")
    held = random_crops(args.folder, args.count // 2, seed=1)
    proxy.rate_weights.copy_(torch.tensor(weights))
    feats, bits = rate_samples(proxy, held, qualities)
    est = feats @ np.asarray(weights)
    print(
        f"held-out: pearson r = {np.corrcoef(est, bits)[0, 1]:.4f}, "
        f"median |rel err| = {np.median(np.abs(est / bits - 1)):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
