"""The LPIPS ranking head: from two distances to the probability that people prefer ``p1``.

A small MLP on ``(d0, d1, d0 - d1, d0 / (d1 + eps), d1 / (d0 + eps))`` (the features of the
LPIPS paper's ``Dist2LogitLayer``). It only exists to train the metric with a BCE loss
against ``judge``; the shipped metric is the distance, not this head.
"""

from __future__ import annotations

import torch
from torch import nn


class RankingHead(nn.Module):
    def __init__(self, hidden: int = 32, eps: float = 0.1) -> None:
        super().__init__()
        self.eps = eps
        self.net = nn.Sequential(
            nn.Linear(5, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
        """Logit of P(p1 preferred) for distances of shape (N,) (or anything flattening to it)."""
        d0 = d0.reshape(-1)
        d1 = d1.reshape(-1)
        x = torch.stack(
            (d0, d1, d0 - d1, d0 / (d1 + self.eps), d1 / (d0 + self.eps)), dim=1
        )
        return self.net(x).squeeze(1)
