"""``pcodec eval 2afc --data PATH --metrics NAMES``: 2AFC (or JND mAP) table of metrics.

Writes ``scores.csv`` (long format), ``scores.md`` (Markdown, one column per reference plus
the pooled "all") and ``distances.csv`` (per-pair distances, reused by ``--reuse``) to
``--out``, and prints the Markdown table.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

DEFAULT_METRICS = "lpips-alex,lpips-vgg,ms-ssim,ssim,psnr"


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True,
                   help="BAPPS 2afc or jnd folder, triplet CSV/JSONL, or MOS score CSV")
    p.add_argument("--metrics", default=DEFAULT_METRICS,
                   help=f"comma-separated metric names or weights paths (default {DEFAULT_METRICS})")
    p.add_argument("--fold-metric", action="append", default=[], metavar="NAME=PATTERN",
                   help="a metric loaded per reference from PATTERN with {ref} replaced by the "
                        "reference id (leave-one-reference-out); repeatable")
    p.add_argument("--out", default=None, help="folder for scores.csv, scores.md, distances.csv")
    p.add_argument("--reuse", action="store_true",
                   help="reuse distances.csv in --out for metrics already measured")
    p.add_argument("--pooled-only", action="store_true", help="no per-reference columns")
    g = p.add_argument_group("image preprocessing")
    g.add_argument("--scale", type=float, default=1.0,
                   help="resize every image by this factor (Pillow bicubic) after matching sizes")
    g.add_argument("--center-crop", type=int, default=None,
                   help="score only the central square of this side (after --scale)")
    g.add_argument("--no-resize", action="store_true",
                   help="reject distorted images whose size differs from the reference "
                        "(default: bicubic resize to the reference)")
    g = p.add_argument_group("MOS score tables")
    g.add_argument("--judge", choices=("thurstone", "observers"), default=None,
                   help="judge from Thurstone Case V (default) or per-observer ratings")
    g.add_argument("--ratings", default=None, help="per-observer ratings CSV (wide)")
    g.add_argument("--sigma", type=float, default=None, help="Thurstone observer spread")
    g.add_argument("--lower-is-better", action="store_true", help="scores are DMOS")
    g.add_argument("--distortions", default=None, help="comma-separated distortion types to keep")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Sequence[str], prog: str = "pcodec eval 2afc") -> int:
    args = build_parser(prog).parse_args(list(argv))

    from pathlib import Path

    from perceptual_codec.core.errors import UserFacingError
    from twoafc.datasets import BAPPSJND, Preprocess, open_dataset
    from twoafc.evaluation import (
        jnd_table,
        markdown_table,
        pair_distances,
        parse_fold_metrics,
        read_distances,
        twoafc_table,
        write_outputs,
    )
    from twoafc.metrics import load_metric

    fold = parse_fold_metrics(args.fold_metric)
    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not names and not fold:
        raise UserFacingError("no metrics given (--metrics or --fold-metric)")
    pre = Preprocess(scale=args.scale, center_crop=args.center_crop,
                     mismatch="error" if args.no_resize else "bicubic", cache=True)
    mos = {}
    if args.judge:
        mos["judge"] = args.judge
    if args.ratings:
        mos["ratings"] = args.ratings
    if args.sigma is not None:
        mos["sigma"] = args.sigma
    if args.lower_is_better:
        mos["higher_is_better"] = False
    if args.distortions:
        mos["distortions"] = [d.strip() for d in args.distortions.split(",")]
    dataset = open_dataset(args.data, pre, **mos)
    metrics = {name: load_metric(name, device=args.device) for name in names}

    if isinstance(dataset, BAPPSJND):
        if fold:
            raise UserFacingError("--fold-metric needs triplets with references, not JND pairs")
        table = jnd_table(dataset, metrics, args.device, progress=not args.no_progress)
        md = markdown_table(table, "jnd_map")
        distances = None
    else:
        known = read_distances(Path(args.out) / "distances.csv") if args.reuse and args.out else {}
        distances = pair_distances(dataset, metrics, fold, known, args.device,
                                   progress=not args.no_progress)
        table = twoafc_table(dataset, distances, by_reference=not args.pooled_only)
        md = (
            "2AFC score\n\n" + markdown_table(table, "2afc")
            + "\nSpearman rank correlation of d0 - d1 with judge\n\n"
            + markdown_table(table, "spearman")
        )
    print(md, end="")
    if args.out:
        if distances is not None and known:
            import pandas as pd

            old = pd.DataFrame(
                [(*k, d) for k, d in known.items()], columns=list(distances.columns)
            )
            distances = pd.concat([old, distances]).drop_duplicates(
                ["metric", "ref", "image", "setting"], keep="last"
            )
        for path in write_outputs(args.out, table, md, distances):
            print(f"wrote {path}")
    return 0
