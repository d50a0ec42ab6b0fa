"""``pcodec bench rd``: rate-distortion benchmark of real codec files on a folder of images,
with per-image and per-point CSVs, CompressAI-style JSON, BD-rate tables, RD plots, a crop
comparison at matched rate and a Markdown report.

Every (image, codec, quality) result is cached, so an interrupted run resumes and a rerun
with more codecs only computes what is new.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from perceptual_codec.core.errors import UserFacingError

ALIASES = {
    "standard": ("jpeg", "webp", "avif", "jpeg2000", "jpegxl", "hevc"),
    "project": ("pcodec:model=sal-mshp", "pcodec:model=mse-mshp", "sandwich-jpeg",
                "sandwich-avif"),
}
ALIASES["all"] = ALIASES["standard"] + ALIASES["project"]

EPILOG = """codec specs: NAME[:KEY=VALUE[:KEY=VALUE...]], or the groups standard, project, all.
  NAME is one of: {names}
  keys: qualities=Q1,Q2,...  label=TEXT  and codec options, e.g.
    pcodec:model=NAME      compressai-ckpt:arch=mbt2018-mean:ckpt=q1.pth,q2.pth,q3.pth
    hevc:preset=slow       jpeg:qualities=10,30,50,70,90

examples:
  {prog} ../shared/data/kodak -o results/kodak --jobs 2
  {prog} photos/ -o quick --limit 3 --codecs jpeg,webp --no-learned
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    from benchmarks.codecs import list_codecs

    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG.format(names=", ".join(list_codecs()), prog=prog))
    p.add_argument("data", help="folder of images (png, jpg, ppm, bmp, tif, webp)")
    p.add_argument("-o", "--output", required=True, help="folder for tables, plots and report.md")
    p.add_argument("--codecs", default="all", metavar="SPECS",
                   help="codec specs separated by ',' (see below); default 'all' "
                        "(codecs unavailable here are skipped and listed in the report)")
    p.add_argument("--anchor", help="codec label for BD tables (default hevc, else jpeg)")
    p.add_argument("--pairs", metavar="TEST:ANCHOR,...",
                   help="also give each TEST codec's BD-rates against its own ANCHOR (codec "
                        "labels), e.g. a sandwich against the plain codec it wraps")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    p.add_argument("--cache-dir", help="where per-point results and the encoded files are "
                                       "cached (default OUTPUT/cache)")
    p.add_argument("--no-learned", action="store_true",
                   help="skip LPIPS metrics (PSNR, MS-SSIM and saliency PSNR only; faster)")
    p.add_argument("--lpips", default="lpips-alex,lpips-comp",
                   help="LPIPS metrics to compute, comma-separated (twoafc.load_metric names "
                        "or weight paths)")
    p.add_argument("--saliency", default="saliency",
                   help="saliency model for the salient region ('none' to skip); the default "
                        "falls back to 'classic-mix' when its weights are missing")
    p.add_argument("--salient-fraction", type=float, default=0.2,
                   help="share of pixels, ranked by saliency, forming the salient region")
    p.add_argument("--grid-image", help="image (file stem) for the crop comparison "
                                        "(default: the first image)")
    p.add_argument("--grid-bpp", type=float, default=0.3, help="target rate of the crop grid")
    p.add_argument("--grid-crop", type=int, default=256, help="crop size in pixels")
    p.add_argument("--max-bpp", type=float, default=2.0, help="x-axis limit of the RD plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def split_specs(text: str) -> list[str]:
    """Split a codec list on commas that start a new codec (not those inside
    ``qualities=1,2,3`` or ``ckpt=a,b``) and on ';'."""
    from benchmarks.codecs import list_codecs

    names = set(list_codecs()) | set(ALIASES)
    out: list[str] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        head = part.split(":", 1)[0]
        if head in names or not out:
            out.append(part)
        else:
            out[-1] += "," + part
    return out


def resolve_codecs(text: str) -> list:
    from benchmarks.codecs import parse_codec_spec

    codecs = []
    for spec in split_specs(text):
        for s in ALIASES.get(spec, (spec,)):
            codecs.append(parse_codec_spec(s))
    labels = [c.label for c in codecs]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise UserFacingError(f"codec labels must be unique, repeated: {', '.join(sorted(dup))} "
                              "(add :label=NAME)")
    return codecs


def main(argv: Sequence[str], prog: str = "pcodec bench rd") -> int:
    argv = list(argv)
    args = build_parser(prog).parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())

    from benchmarks.metrics import MetricSuite
    from benchmarks.rd.cache import ResultCache
    from benchmarks.rd.output import write_outputs
    from benchmarks.rd.runner import discover_images, run_benchmark
    from benchmarks.rd.tables import parse_pairs

    if args.jobs < 1:
        raise UserFacingError(f"--jobs must be at least 1, got {args.jobs}")
    if not 0 < args.salient_fraction < 1:
        raise UserFacingError("--salient-fraction must be between 0 and 1")
    try:
        pairs = parse_pairs(args.pairs)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    codecs = resolve_codecs(args.codecs)
    labels = [c.label for c in codecs]
    unknown = sorted({name for pair in pairs for name in pair} - set(labels))
    if unknown:
        raise UserFacingError(f"--pairs names {unknown[0]!r}, which is not among the codecs "
                              f"({', '.join(labels)})")
    images = discover_images(args.data, args.limit)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    cache = ResultCache(args.cache_dir or out / "cache")
    lpips = [] if args.no_learned else [s for s in args.lpips.split(",") if s.strip()]
    suite = MetricSuite(lpips=lpips, saliency=None if args.saliency == "none" else args.saliency,
                        salient_fraction=args.salient_fraction)
    progress = not args.no_progress
    result = run_benchmark(images, codecs, suite, cache, jobs=args.jobs,
                           learned=not args.no_learned, progress=progress)
    if not result.records:
        reasons = "; ".join(f"{k}: {v}" for k, v in result.skipped_codecs.items())
        fails = "; ".join(result.failures[:3])
        raise UserFacingError("no results: " + (reasons or fails or "nothing to run"))
    command = " ".join(shlex.quote(x) for x in [*prog.split(), *argv])
    report = write_outputs(out, result, images, codecs, suite, cache, args, command, started,
                           progress=progress)
    for line in result.failures[:5]:
        print(f"warning: {line}")
    for name, why in result.skipped_codecs.items():
        print(f"skipped {name}: {why}")
    print(f"{result.computed} points computed ({result.rescored} re-scored from cached files), "
          f"{result.reused} from cache; report: {report}")
    return 0
