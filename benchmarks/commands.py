"""``pcodec bench {rd,coco}``."""

from __future__ import annotations

from collections.abc import Sequence

from perceptual_codec.core.cligroup import run_group

LEAVES = {
    "rd": ("benchmarks.rd.cli", "rate-distortion benchmark with BD-rates, plots and a report"),
    "coco": ("benchmarks.coco.cli", "downstream detection/segmentation/classification"),
}


def main(argv: Sequence[str], prog: str = "pcodec bench") -> int:
    return run_group(argv, prog, LEAVES, "Benchmarks that write CSV, JSON, plots and a report.")
