"""``pcodec twoafc {make-pairs}``: tools for running your own 2AFC study."""

from __future__ import annotations

from collections.abc import Sequence

from perceptual_codec.core.cligroup import run_group

LEAVES = {
    "make-pairs": ("twoafc.commands.make_pairs", "make BAPPS-layout triplets from real codecs"),
}


def main(argv: Sequence[str], prog: str = "pcodec twoafc") -> int:
    return run_group(argv, prog, LEAVES, "2AFC study tools.")
