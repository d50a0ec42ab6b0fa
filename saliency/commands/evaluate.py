"""``pcodec eval saliency --data DIR --models M1 M2 ...``: score saliency models on fixations.

Computes AUC-Judd, shuffled AUC, NSS, CC, KLD and SIM per image with the definitions of
Bylinskii et al., "What do different evaluation metrics tell us about saliency models?"
(TPAMI 2019; see ``saliency.metrics``), and writes OUT.csv (mean per model),
OUT_per_image.csv and OUT.md (a Markdown table). By default the held-out test split of the
fixed-seed split by image (the one training uses) is scored, at each image's native size.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

LABELS = {"auc_judd": "AUC-Judd ↑", "sauc": "sAUC ↑", "nss": "NSS ↑", "cc": "CC ↑",
          "kld": "KLD ↓", "sim": "SIM ↑"}


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="fixation data folder (NUS, MIT1003 or "
                   "SALICON-style layout; see saliency.data)")
    p.add_argument("--models", nargs="+", default=["saliency"],
                   help="model names or paths (space- or comma-separated)")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                   help="which images to score (default: test)")
    p.add_argument("--split-file", help="JSON split of image keys (else the fixed-seed split)")
    p.add_argument("--test-size", type=int, default=40)
    p.add_argument("--val-size", type=int, default=16)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--max-side", type=int, default=0,
                   help="score at most this long a side (0: native size, the standard)")
    p.add_argument("--n-splits", type=int, default=100, help="random draws for shuffled AUC")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffled-AUC draws")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default)")
    p.add_argument("-o", "--output", default="saliency_eval",
                   help="output prefix: writes PREFIX.csv, PREFIX_per_image.csv, PREFIX.md")
    return p


def _keys_for(args, records) -> list[str]:
    from saliency.data import SaliencyDataError, load_split_file, split_by_image

    keys = [r.key for r in records]
    if args.split == "all":
        return keys
    if args.split_file:
        split = load_split_file(args.split_file)
    else:
        split = split_by_image(keys, args.test_size, args.val_size, args.split_seed)
    if args.split not in split or not split[args.split]:
        raise SaliencyDataError(f"split '{args.split}' is empty")
    missing = sorted(set(split[args.split]) - set(keys))
    if missing:
        raise SaliencyDataError(f"{len(missing)} images of the split are not in {args.data}, "
                                f"e.g. {missing[0]}")
    return split[args.split]


def _eval_size(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    h, w = shape
    if max_side <= 0 or max(h, w) <= max_side:
        return h, w
    s = max_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def markdown_table(summary, title: str, notes: Sequence[str]) -> str:
    """Markdown table of mean scores; the best value of each column in bold."""
    from saliency.metrics import HIGHER_IS_BETTER, METRICS

    lines = [f"### {title}", "", "| model | " + " | ".join(LABELS[m] for m in METRICS) + " |",
             "|---|" + "---:|" * len(METRICS)]
    best = {m: (summary[m].max() if HIGHER_IS_BETTER[m] else summary[m].min()) for m in METRICS}
    for name, row in summary.iterrows():
        cells = []
        for m in METRICS:
            v = row[m]
            text = f"{v:.3f}"
            cells.append(f"**{text}**" if v == best[m] else text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [""] + [f"{n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str], prog: str = "pcodec eval saliency") -> int:
    args = build_parser(prog).parse_args(list(argv))
    import numpy as np
    import pandas as pd
    import torch
    from tqdm.auto import tqdm

    from perceptual_codec.core.atomic import atomic_write_text
    from saliency.data import (
        discover,
        points_to_map,
        read_density,
        read_fixation_points,
        read_stimulus,
    )
    from saliency.metrics import METRICS, all_metrics
    from saliency.zoo import load_model

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    names = [n for item in args.models for n in item.split(",") if n]
    models = {n: load_model(n) for n in names}
    records = {r.key: r for r in discover(args.data)}
    keys = _keys_for(args, list(records.values()))
    chosen = [records[k] for k in keys]
    no_points = [r.key for r in chosen if r.points is None]
    if no_points:
        from saliency.data import SaliencyDataError

        raise SaliencyDataError(f"{len(no_points)} images have no fixation-point map (needed "
                                f"for AUC and NSS), e.g. {no_points[0]}")

    # Fixations of every scored image in normalised coordinates, for the shuffled AUC.
    points = {}
    for r in chosen:
        pts, shape = read_fixation_points(r.points)
        points[r.key] = (pts, shape)

    rows = []
    for r in tqdm(chosen, desc="images", file=sys.stderr):
        pts, native = points[r.key]
        size = _eval_size(native, args.max_side)
        fix = points_to_map(pts, native, size)
        density = read_density(r.density, None if size == native else size)
        if density.shape != size:
            density = read_density(r.density, size)
        others = np.zeros(size, dtype=np.float32)
        for k, (p, s) in points.items():
            if k != r.key:
                others = np.maximum(others, points_to_map(p, s, size))
        image = torch.from_numpy(read_stimulus(r.image, size)).permute(2, 0, 1).float() / 255.0
        for name, model in models.items():
            sal = model.predict(image)
            scores = all_metrics(sal, density, fix, others, args.n_splits, args.seed)
            rows.append({"model": name, "image": r.key, **scores})

    per_image = pd.DataFrame(rows)
    summary = per_image.groupby("model", sort=False)[list(METRICS)].mean()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_name(out.name + "_per_image.csv"), per_image.to_csv(index=False))
    atomic_write_text(out.with_name(out.name + ".csv"), summary.to_csv(float_format="%.4f"))
    where = "native size" if args.max_side <= 0 else f"longer side <= {args.max_side} px"
    notes = [
        f"Data: `{args.data}`, split `{args.split}` ({len(chosen)} images), scored at {where}.",
        f"Shuffled AUC: negatives from the fixations of the other {len(chosen) - 1} images, "
        f"{args.n_splits} draws, seed {args.seed}.",
        "Metrics as defined by Bylinskii et al., TPAMI 2019 (`saliency.metrics`).",
    ]
    md = markdown_table(summary, "Saliency evaluation", notes)
    atomic_write_text(out.with_name(out.name + ".md"), md)
    print(md)
    return 0
