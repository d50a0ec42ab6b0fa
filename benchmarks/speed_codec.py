"""Encode/decode speed of the project codec vs CompressAI's ``bmshj2018-hyperprior`` with the
same channel sizes, timed in the same run on a 768x512 image, plus the ratio of the real
bitstream size to the model's estimated rate.

    python -m benchmarks.speed_codec [--image IMG] [--model sal-mshp] [--repeats 3] [--json OUT]

Times are wall-clock medians over ``--repeats`` runs after one warm-up, single process, with
torch's default CPU threads. "ours" includes computing the saliency map (``--saliency``) and
the container; the baseline is CompressAI's ``compress``/``decompress`` on the same padded
tensor. Baseline weights are random (speed does not depend on their values).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def _image(path: str | None) -> np.ndarray:
    if path:
        from perceptual_codec.core.io import load_image_array

        img = load_image_array(path)
    else:
        from skimage import data as skdata

        img = skdata.astronaut()
    from PIL import Image

    if img.shape[:2] != (512, 768):
        img = np.asarray(Image.fromarray(img).resize((768, 512), Image.BICUBIC))
    return np.ascontiguousarray(img)


def _median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def run(image: np.ndarray, model_name: str, quality: int, saliency: str, repeats: int) -> dict:
    from compressai.zoo import bmshj2018_hyperprior

    from perceptual_codec import api
    from perceptual_codec.models.saliency_maps import resolve_saliency
    from perceptual_codec.zoo import load_model

    ours = load_model(model_name)
    enc_t, data = _median_time(
        lambda: api.compress(image, model=model_name, quality=quality, saliency=saliency),
        repeats)
    dec_t, _ = _median_time(lambda: api.decompress(data), repeats)
    sal_t, (sal, source) = _median_time(lambda: resolve_saliency(saliency, image), repeats)

    # estimated rate of the same image/quality from the entropy models' likelihoods
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    s = None if sal is None else torch.from_numpy(sal)[None, None]
    with torch.no_grad():
        out = ours(x, s if ours.conditioned else None, quality)
    est_bits = sum(-torch.log2(v).sum().item() for v in out["likelihoods"].values())
    info = api.info(data)
    payload_bits = 8 * sum(info["section_lengths"])

    base = bmshj2018_hyperprior(quality=1, pretrained=False)
    if (base.N, base.M) != (ours.N, ours.M):
        from compressai.models import ScaleHyperprior

        base = ScaleHyperprior(N=ours.N, M=ours.M)
    base.eval()
    base.update(force=True)
    with torch.no_grad():
        b_enc_t, b_out = _median_time(lambda: base.compress(x), repeats)
        b_dec_t, _ = _median_time(lambda: base.decompress(b_out["strings"], b_out["shape"]),
                                  repeats)
    return {
        "image": f"{image.shape[1]}x{image.shape[0]}",
        "model": model_name,
        "quality": quality,
        "saliency": source,
        "threads": torch.get_num_threads(),
        "ours_encode_s": enc_t,
        "ours_decode_s": dec_t,
        "ours_saliency_s": sal_t,
        "baseline": f"compressai bmshj2018-hyperprior N={ours.N} M={ours.M}",
        "baseline_encode_s": b_enc_t,
        "baseline_decode_s": b_dec_t,
        "encode_ratio": enc_t / b_enc_t,
        "decode_ratio": dec_t / b_dec_t,
        "file_bytes": len(data),
        "bpp": info["bpp"],
        "payload_bits": payload_bits,
        "estimated_bits": est_bits,
        "payload_to_estimate": payload_bits / est_bits,
        "file_to_estimate": 8 * len(data) / est_bits,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", help="image file (resized to 768x512); default skimage astronaut")
    p.add_argument("--model", default="sal-mshp")
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--saliency", default="auto")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = p.parse_args(argv)
    res = run(_image(args.image), args.model, args.quality, args.saliency, args.repeats)
    for k, v in res.items():
        print(f"{k:>22}: {v:.4f}" if isinstance(v, float) else f"{k:>22}: {v}")
    if args.json:
        from perceptual_codec.core.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
