"""``pcodec decompress IN -o OUT.png``: ``.pcc`` (or sandwich) file -> PNG."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str], prog: str = "pcodec decompress") -> int:
    p = argparse.ArgumentParser(prog=prog, description="Decompress a .pcc (or sandwich) file.")
    p.add_argument("input", help="compressed file")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--no-overwrite", action="store_true", help="refuse an existing output")
    args = p.parse_args(list(argv))
    from perceptual_codec import api
    from perceptual_codec.core.atomic import check_not_same_file
    from perceptual_codec.core.io import save_png

    check_not_same_file(args.input, args.output)
    image = api.decompress(api.read_file(args.input))
    save_png(image, args.output, overwrite=not args.no_overwrite)
    print(f"{args.output}: {image.shape[1]}x{image.shape[0]}")
    return 0
