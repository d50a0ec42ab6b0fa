"""``pcodec score REF IMG [--metric NAMES] [--map OUT.png]``: perceptual distance of IMG to REF.

Prints one line per metric (lower = closer; PSNR also in dB). ``--map`` writes the LPIPS
per-pixel distance map as a colour PNG (first LPIPS metric given).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("ref", help="reference image")
    p.add_argument("img", help="distorted image")
    p.add_argument("--metric", default="lpips-comp",
                   help="comma-separated names (lpips-comp, lpips-alex, lpips-vgg, psnr, ssim, "
                        "ms-ssim) or weights paths (default lpips-comp)")
    p.add_argument("--resize", action="store_true",
                   help="resize IMG to REF's size (bicubic) when they differ")
    p.add_argument("--map", default=None, metavar="OUT.png", help="write the LPIPS distance map")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default="cpu")
    return p


def main(argv: Sequence[str], prog: str = "pcodec score") -> int:
    args = build_parser(prog).parse_args(list(argv))

    import json
    from pathlib import Path

    import torch

    from perceptual_codec.core.errors import UserFacingError
    from twoafc.classic import mse_to_psnr
    from twoafc.datasets import Preprocess, TwoAFCDataError
    from twoafc.metrics import load_metric

    pre = Preprocess(mismatch="bicubic" if args.resize else "error")
    ref = pre.load(Path(args.ref))
    try:
        img = pre.load(Path(args.img), like=Path(args.ref))
    except TwoAFCDataError as exc:
        raise UserFacingError(f"{exc}; pass --resize to compare anyway") from None
    x, y = ref.unsqueeze(0).to(args.device), img.unsqueeze(0).to(args.device)
    names = [m.strip() for m in args.metric.split(",") if m.strip()]
    results: dict[str, float] = {}
    map_done = False
    for name in names:
        model = load_metric(name, device=args.device)
        with torch.no_grad():
            results[name] = float(model(x, y).reshape(-1)[0])
            if args.map and not map_done and hasattr(model, "spatial"):
                model.spatial = True
                _write_map(model(x, y)[0, 0].cpu(), Path(args.map))
                map_done = True
    if args.map and not map_done:
        raise UserFacingError("--map needs an LPIPS metric (lpips-comp, lpips-alex, lpips-vgg)")
    if args.json:
        print(json.dumps(results))
    else:
        for name, d in results.items():
            extra = f"  (PSNR {mse_to_psnr(d):.2f} dB)" if name == "psnr" else ""
            print(f"{name}: {d:.6f}{extra}")
    if map_done:
        print(f"wrote {args.map}")
    return 0


def _write_map(distance_map, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import colormaps

    from perceptual_codec.core.io import save_png

    m = distance_map.numpy()
    top = float(np.percentile(m, 99.5)) or 1.0
    rgb = colormaps["magma"](np.clip(m / top, 0.0, 1.0))[..., :3]
    save_png((rgb * 255.0 + 0.5).astype(np.uint8), path)
