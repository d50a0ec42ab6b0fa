"""``pcodec compress IN -o OUT``: image -> ``.pcc`` file (or a sandwich JPEG/AVIF)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Compress an image with a learned codec.")
    p.add_argument("input", help="input image (PNG, JPEG, WebP, ...)")
    p.add_argument("-o", "--output", required=True, help="output file (.pcc)")
    p.add_argument("--model", default="sal-mshp",
                   help="codec model from 'pcodec models' (default: sal-mshp)")
    p.add_argument("--quality", type=int, default=None,
                   help="quality level, 1 = smallest file (default: the model's middle level)")
    p.add_argument("--saliency", default="auto",
                   help="auto (learned model, else classic), classic, none, or a mask image "
                   "(white = important)")
    p.add_argument("--no-overwrite", action="store_true", help="refuse an existing output")
    return p


def main(argv: Sequence[str], prog: str = "pcodec compress") -> int:
    args = build_parser(prog).parse_args(list(argv))
    from perceptual_codec import api
    from perceptual_codec.core.atomic import atomic_write_bytes, check_not_same_file

    check_not_same_file(args.input, args.output)
    data = api.compress(args.input, model=args.model, quality=args.quality,
                        saliency=args.saliency)
    atomic_write_bytes(args.output, data, overwrite=not args.no_overwrite)
    try:
        d = api.info(data)
        print(f"{args.output}: {len(data)} bytes, {d.get('bpp', float('nan')):.4f} bpp "
              f"({d.get('model', args.model)} q{d.get('quality', args.quality)})")
    except Exception:  # a sandwich file whose describe() lacks these fields
        print(f"{args.output}: {len(data)} bytes")
    return 0
