"""``pcodec eval {2afc,saliency}``: evaluation tables (CSV + Markdown)."""

from __future__ import annotations

from collections.abc import Sequence

from perceptual_codec.core.cligroup import run_group

LEAVES = {
    "2afc": ("twoafc.commands.evaluate", "2AFC / JND scores of metrics on judged triplets"),
    "saliency": ("saliency.commands.evaluate", "AUC, sAUC, NSS, CC, KLD, SIM on fixation data"),
}


def main(argv: Sequence[str], prog: str = "pcodec eval") -> int:
    return run_group(argv, prog, LEAVES, "Evaluate models and write CSV + Markdown tables.")
