"""``pcodec train {metric,saliency,codec,sandwich}``: LightningCLI runs from YAML configs."""

from __future__ import annotations

from collections.abc import Sequence

from perceptual_codec.core.cligroup import run_group

LEAVES = {
    "metric": ("twoafc.commands.train", "train an LPIPS-style metric on 2AFC judgments"),
    "saliency": ("saliency.commands.train", "train a saliency model on fixation data"),
    "codec": ("perceptual_codec.commands.train_codec", "train a hyperprior codec"),
    "sandwich": ("perceptual_codec.commands.train_sandwich", "train a sandwich pre/post pair"),
}


def main(argv: Sequence[str], prog: str = "pcodec train") -> int:
    return run_group(argv, prog, LEAVES, "Train a model from a LightningCLI YAML config.")
