"""``pcodec saliency IMG -o MAP.png``: predict where people look in an image.

Writes the map as an 8-bit grayscale PNG at the image's size (255 = most salient) and,
with ``--overlay``, a heat-map overlay on the image for a quick visual check.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

MODEL_HELP = (
    "saliency model: saliency (learned, default), spectral-residual, fine-grained, center, "
    "classic-mix, a .pt weights file, or a mask image to pass through"
)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", help="input image (any format Pillow reads)")
    parser.add_argument("-o", "--output", required=True, help="output map (PNG)")
    parser.add_argument("--overlay", help="also write a heat-map overlay (PNG) here")
    parser.add_argument("--model", default="saliency", help=MODEL_HELP)
    parser.add_argument("--alpha", type=float, default=0.6,
                        help="overlay opacity at the most salient point (default 0.6)")
    parser.add_argument("--max-pixels", type=int, default=64_000_000,
                        help="refuse larger input images (default 64 megapixels)")
    return parser


def heatmap_overlay(image, saliency, alpha: float = 0.6):
    """RGB uint8 (H,W,3): the image under a 'turbo' heat map whose opacity grows with
    saliency, so unsalient regions stay readable."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import colormaps

    img = np.asarray(image, dtype=np.float32) / 255.0
    s = np.clip(np.asarray(saliency, dtype=np.float32), 0.0, 1.0)
    heat = colormaps["turbo"](s)[..., :3].astype(np.float32)
    weight = (alpha * s)[..., None]
    out = img * (1.0 - weight) + heat * weight
    return np.rint(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)


def main(argv: Sequence[str], prog: str = "pcodec saliency") -> int:
    args = build_parser(prog).parse_args(list(argv))
    if not 0.0 <= args.alpha <= 1.0:
        from perceptual_codec.core.errors import UserFacingError

        raise UserFacingError(f"--alpha must be in [0, 1], got {args.alpha}")

    import numpy as np

    from perceptual_codec.core.atomic import check_not_same_file
    from perceptual_codec.core.io import load_image, save_png, to_uint8
    from saliency.zoo import load_model

    for out in filter(None, (args.output, args.overlay)):
        check_not_same_file(args.image, out)
    image = load_image(args.image, max_pixels=args.max_pixels)
    model = load_model(args.model)
    sal = model.predict(image)
    save_png(np.rint(sal * 255.0).astype(np.uint8), args.output)
    print(f"wrote {args.output} ({sal.shape[1]}x{sal.shape[0]}, model {model.name})")
    if args.overlay:
        save_png(heatmap_overlay(to_uint8(image), sal, args.alpha), args.overlay)
        print(f"wrote {args.overlay}")
    return 0
