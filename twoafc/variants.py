"""The three training variants of the LPIPS paper, as ways to build a trainable LPIPS.

- ``lin``: ImageNet trunk frozen; only the 1x1 lin layers learn (about 1.5k weights for alex).
- ``tune``: ImageNet trunk fine-tuned together with the lin layers.
- ``scratch``: random trunk, trained from scratch with the lin layers.

``lin_init`` chooses where the lin layers start: the released v0.1 weights ("released") or
fresh random 1x1 convolutions ("random"). Lin weights must stay >= 0 (a distance that grows
with feature differences); :func:`clamp_lin_` is applied after every optimiser step.
"""

from __future__ import annotations

import torch
from torch import nn

VARIANTS = ("lin", "tune", "scratch")


def build_lpips(
    net: str = "alex", variant: str = "lin", lin_init: str = "released", trunk_path: str | None = None
) -> nn.Module:
    """A trainable LPIPS for one variant; parameters that do not learn have requires_grad off."""
    from .network import LPIPS

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if lin_init not in ("released", "random"):
        raise ValueError(f"lin_init must be 'released' or 'random', got {lin_init!r}")
    model = LPIPS(
        net=net,
        lin=lin_init,
        trunk="random" if variant == "scratch" else "pretrained",
        trunk_path=trunk_path,
        tune_trunk=variant != "lin",
    )
    for p in model.net.parameters():
        p.requires_grad_(variant != "lin")
    for p in model.lins.parameters():
        p.requires_grad_(True)
    if lin_init == "random":
        # The LPIPS paper starts lin layers positive so the initial distance is a sensible sum.
        with torch.no_grad():
            for p in model.lins.parameters():
                p.uniform_(0.0, 1.0 / p.shape[1])
    return model


@torch.no_grad()
def clamp_lin_(model: nn.Module) -> None:
    """Clamp every lin-layer weight to >= 0 in place."""
    for p in model.lins.parameters():
        p.clamp_(min=0.0)
