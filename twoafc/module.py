"""LightningModule that learns an LPIPS metric from 2AFC judgments (loss + optimisation only).

Training: d0 = LPIPS(ref, p0), d1 = LPIPS(ref, p1); the ranking head maps them to the
logit of P(p1 preferred), trained with BCE against ``judge`` (the LPIPS paper's recipe).
Lin weights are clamped >= 0 after every step. Validation measures every unique
(reference, image) pair once on whole images and logs ``val_2afc`` (the 2AFC score) and
``val_bce``; early stopping and checkpoint selection watch ``val_2afc``.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from .ranking import RankingHead
from .scores import twoafc_score
from .variants import build_lpips, clamp_lin_


class LPIPSTrainer(pl.LightningModule):
    """Args:
        net: trunk, "alex" or "vgg".
        variant: "lin", "tune" or "scratch" (see :mod:`twoafc.variants`).
        lin_init: "released" (v0.1 lin weights) or "random".
        lr: Adam learning rate of the lin layers and the ranking head.
        trunk_lr: learning rate of the trunk for tune/scratch (default: ``lr``).
        beta1: Adam beta1 (0.5 in the LPIPS paper).
        decay_epochs: linearly decay the learning rate to 0 over this many final epochs
            (0: constant), as the LPIPS paper does.
        head_hidden: width of the ranking head.
    """

    def __init__(
        self,
        net: str = "alex",
        variant: str = "lin",
        lin_init: str = "released",
        lr: float = 1e-4,
        trunk_lr: float | None = None,
        beta1: float = 0.5,
        decay_epochs: int = 0,
        head_hidden: int = 32,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.metric = build_lpips(net, variant, lin_init)
        self.head = RankingHead(head_hidden)
        self._val_d: dict[int, float] = {}

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.metric(x, y, normalize=True)

    def _bce(self, d0, d1, judge):
        logits = self.head(d0, d1)
        return F.binary_cross_entropy_with_logits(logits, judge.float())

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        ref, p0, p1, judge = batch
        d0, d1 = self(ref, p0), self(ref, p1)
        loss = self._bce(d0, d1, judge)
        n = judge.numel()
        self.log("train_loss", loss, prog_bar=True, batch_size=n)
        with torch.no_grad():
            agree = ((d0 < d1) * (1 - judge) + (d1 < d0) * judge + 0.5 * (d0 == d1)).mean()
        self.log("train_2afc", agree, prog_bar=True, batch_size=n)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        clamp_lin_(self.metric)

    def on_validation_epoch_start(self) -> None:
        self._val_d = {}

    def validation_step(self, batch, batch_idx: int) -> None:
        ref, image, index = batch
        d = self(ref, image)
        for i, v in zip(index.tolist(), d.tolist(), strict=True):
            self._val_d[i] = v

    def on_validation_epoch_end(self) -> None:
        loaders = self.trainer.val_dataloaders
        loader = loaders[0] if isinstance(loaders, list | tuple) else loaders
        pairs = loader.dataset
        if len(self._val_d) != len(pairs):  # sanity check with a batch limit
            return
        d = torch.tensor([self._val_d[i] for i in range(len(pairs))], device=self.device)
        d0, d1 = d[pairs.triplet_pairs[:, 0]], d[pairs.triplet_pairs[:, 1]]
        judge = pairs.judge.to(self.device)
        with torch.no_grad():
            bce = self._bce(d0, d1, judge)
        score = twoafc_score(d0.cpu().numpy(), d1.cpu().numpy(), judge.cpu().numpy())
        self.log("val_2afc", score, prog_bar=True)
        self.log("val_bce", bce, prog_bar=True)

    def configure_optimizers(self):
        hp = self.hparams
        groups = [{"params": list(self.metric.lins.parameters()) + list(self.head.parameters()),
                   "lr": hp.lr}]
        trunk = [p for p in self.metric.net.parameters() if p.requires_grad]
        if trunk:
            groups.append({"params": trunk, "lr": hp.trunk_lr if hp.trunk_lr is not None else hp.lr})
        optimizer = torch.optim.Adam(groups, betas=(hp.beta1, 0.999))
        if hp.decay_epochs <= 0:
            return optimizer
        total = self.trainer.max_epochs if self.trainer and self.trainer.max_epochs else 0
        start = max(0, total - hp.decay_epochs)

        def factor(epoch: int) -> float:
            if epoch < start:
                return 1.0
            return max(0.0, 1.0 - (epoch - start) / max(1, hp.decay_epochs))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
