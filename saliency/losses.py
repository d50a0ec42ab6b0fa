"""Training losses on batched maps: KL divergence, correlation coefficient and NSS.

Differentiable torch versions of three of the evaluation metrics (``saliency.metrics`` has
the reference numpy definitions). Combining a distribution loss (KLD), a linear one (CC) and
a fixation-based one (NSS) is the usual recipe (e.g. SAM, Cornia et al. 2018) because each
alone rewards a different failure.
"""

from __future__ import annotations

import torch
from torch import nn

_EPS = 1e-8


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).float()


def kld_loss(log_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || pred) per map, averaged; ``log_pred`` is a log-probability map."""
    q = _flat(target)
    q = q / q.sum(dim=1, keepdim=True).clamp_min(_EPS)
    return (q * (torch.log(q + _EPS) - _flat(log_pred))).sum(dim=1).mean()


def cc(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between each predicted and target map, averaged."""
    p = _flat(pred)
    q = _flat(target)
    p = p - p.mean(dim=1, keepdim=True)
    q = q - q.mean(dim=1, keepdim=True)
    num = (p * q).sum(dim=1)
    den = torch.sqrt((p * p).sum(dim=1) * (q * q).sum(dim=1)).clamp_min(_EPS)
    return (num / den).mean()


def nss(pred: torch.Tensor, fixations: torch.Tensor) -> torch.Tensor:
    """Mean standardised prediction at fixated pixels (``fixations`` is a 0/1 map)."""
    p = _flat(pred)
    f = _flat(fixations)
    p = (p - p.mean(dim=1, keepdim=True)) / p.std(dim=1, keepdim=True).clamp_min(_EPS)
    count = f.sum(dim=1)
    valid = count > 0
    if not bool(valid.any()):
        return p.new_zeros(())
    per_map = (p * f).sum(dim=1)[valid] / count[valid]
    return per_map.mean()


class SaliencyLoss(nn.Module):
    """``kld_weight * KLD - cc_weight * CC - nss_weight * NSS`` on logits.

    Returns the total and its parts (for logging).
    """

    def __init__(self, kld_weight: float = 1.0, cc_weight: float = 1.0, nss_weight: float = 0.1):
        super().__init__()
        self.kld_weight = kld_weight
        self.cc_weight = cc_weight
        self.nss_weight = nss_weight

    def forward(
        self, logits: torch.Tensor, density: torch.Tensor, fixations: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        log_p = _flat(logits).log_softmax(dim=1).reshape(logits.shape)
        prob = log_p.exp()
        parts = {
            "kld": kld_loss(log_p, density),
            "cc": cc(prob, density),
            "nss": nss(prob, fixations),
        }
        total = (
            self.kld_weight * parts["kld"]
            - self.cc_weight * parts["cc"]
            - self.nss_weight * parts["nss"]
        )
        return total, parts
