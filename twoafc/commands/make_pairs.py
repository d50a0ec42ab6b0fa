"""``pcodec twoafc make-pairs --images DIR --codecs jpeg,webp,avif --bpp 0.25,0.5,1.0 --out OUT``

Makes the unlabelled half of a 2AFC study of compression artifacts: for every image and
every target bitrate, each codec is tuned to that bitrate (real files, see
:mod:`twoafc.bitrate`) and every pair of codecs becomes a BAPPS-layout triplet
``OUT/ref/ID.png``, ``OUT/p0/ID.png``, ``OUT/p1/ID.png`` (decoded PNGs; which codec is p0
is shuffled with ``--seed``). ``OUT/files/`` keeps the compressed files and
``OUT/manifest.csv`` lists codec, setting and achieved bpp of each side. After the study,
write ``OUT/judge/ID.npy`` (share preferring p1) and the folder loads as ``BAPPS2AFC``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--images", required=True, help="folder of reference images")
    p.add_argument("--codecs", default="jpeg,webp,avif", help="comma-separated codecs")
    p.add_argument("--bpp", default="0.25,0.5,1.0", help="comma-separated target bitrates")
    p.add_argument("--out", required=True, help="output folder (BAPPS layout)")
    p.add_argument("--max-side", type=int, default=None,
                   help="downscale references so their longer side is at most this (Lanczos)")
    p.add_argument("--tolerance", type=float, default=0.25,
                   help="warn when a codec's bpp is off the target by more than this fraction")
    p.add_argument("--seed", type=int, default=0, help="seed of the p0/p1 shuffle")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty output folder")
    return p


def main(argv: Sequence[str], prog: str = "pcodec twoafc make-pairs") -> int:
    args = build_parser(prog).parse_args(list(argv))

    import csv
    import io
    import itertools
    import random
    import sys
    from pathlib import Path

    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from perceptual_codec.core.atomic import atomic_write_bytes, atomic_write_text
    from perceptual_codec.core.errors import UserFacingError
    from perceptual_codec.core.io import load_image_array, save_png
    from twoafc.bitrate import _spec, match_bitrate
    from twoafc.datasets import IMAGE_SUFFIXES

    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    if len(codecs) < 2:
        raise UserFacingError("--codecs needs at least two codecs to make pairs")
    for c in codecs:
        _spec(c)  # fails early, naming an unknown or missing codec
    try:
        targets = [float(b) for b in args.bpp.split(",") if b.strip()]
    except ValueError:
        raise UserFacingError(f"--bpp {args.bpp!r}: expected comma-separated numbers") from None
    if not targets or any(t <= 0 for t in targets):
        raise UserFacingError("--bpp needs positive bitrates")
    src = Path(args.images)
    if not src.is_dir():
        raise UserFacingError(f"--images {src} is not a folder")
    images = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise UserFacingError(f"{src} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise UserFacingError(f"{out} is not empty (use --overwrite or another --out)")
    for sub in ("ref", "p0", "p1", "files"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    rng = random.Random(args.seed)
    rows = []
    n = 0
    for path in tqdm(images, desc="images"):
        image = Image.fromarray(load_image_array(path))
        if args.max_side and max(image.size) > args.max_side:
            image.thumbnail((args.max_side, args.max_side), Image.Resampling.LANCZOS)
        ref_array = np.asarray(image.convert("RGB"))
        for target in targets:
            decoded = {}
            for codec in codecs:
                enc = match_bitrate(image, codec, target)
                if abs(enc.bpp - target) > args.tolerance * target:
                    print(f"warning: {path.name} {codec}: closest bpp {enc.bpp:.3f} "
                          f"for target {target}", file=sys.stderr)
                stem = f"{path.stem}_{codec}_{target:g}bpp"
                atomic_write_bytes(out / "files" / f"{stem}{enc.extension}", enc.data)
                with Image.open(io.BytesIO(enc.data)) as im:
                    decoded[codec] = (enc, im.convert("RGB").copy(), stem + enc.extension)
            for a, b in itertools.combinations(codecs, 2):
                if rng.random() < 0.5:
                    a, b = b, a
                key = f"{n:06d}"
                save_png(ref_array, out / "ref" / f"{key}.png")
                for side, codec in (("p0", a), ("p1", b)):
                    save_png(np.asarray(decoded[codec][1]), out / side / f"{key}.png")
                ea, eb = decoded[a][0], decoded[b][0]
                rows.append([key, path.name, target, a, ea.setting, f"{ea.bpp:.4f}",
                             decoded[a][2], b, eb.setting, f"{eb.bpp:.4f}", decoded[b][2]])
                n += 1
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "source", "target_bpp", "p0_codec", "p0_setting", "p0_bpp", "p0_file",
                     "p1_codec", "p1_setting", "p1_bpp", "p1_file"])
    writer.writerows(rows)
    atomic_write_text(out / "manifest.csv", buf.getvalue())
    print(f"wrote {n} triplets to {out} (manifest.csv lists codecs and bitrates)")
    return 0
