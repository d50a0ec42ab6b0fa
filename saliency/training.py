"""LightningModule for saliency training: the loss and the optimisation, nothing else.

The network arrives as a constructor argument (a LightningCLI ``class_path``), so the same
module trains any net that maps (N,3,H,W) images in [0,1] to (N,1,H,W) logits.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn

from saliency.losses import SaliencyLoss


class SaliencyTraining(pl.LightningModule):
    """Minimise ``kld_weight*KLD - cc_weight*CC - nss_weight*NSS`` of softmax(logits).

    Args:
        net: the saliency network (e.g. :class:`saliency.net.SaliencyNet`).
        lr: AdamW learning rate of the decoder and prior.
        encoder_lr: learning rate of the pretrained encoder (smaller: it is pretrained).
        weight_decay: AdamW weight decay.
        kld_weight, cc_weight, nss_weight: loss weights.
        cache_frozen: keep the frozen encoder's output per (image, flip) in memory, when the
            net offers ``encode_frozen`` / ``decode_from_frozen``. The frozen part has no
            trainable weights and runs in eval mode, so this changes no result; it removes
            most of the per-step cost on CPU.
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = 1e-3,
        encoder_lr: float = 1e-4,
        weight_decay: float = 1e-4,
        kld_weight: float = 1.0,
        cc_weight: float = 1.0,
        nss_weight: float = 0.1,
        cache_frozen: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.loss = SaliencyLoss(kld_weight, cc_weight, nss_weight)
        self.cache_frozen = cache_frozen and hasattr(net, "encode_frozen")
        self._frozen_cache: dict[tuple[str, bool], list[torch.Tensor]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _logits(self, batch: dict) -> torch.Tensor:
        x = batch["image"]
        if not self.cache_frozen or "key" not in batch:
            return self.net(x)
        flips = batch.get("flipped")
        ids = [(k, bool(flips[i]) if flips is not None else False)
               for i, k in enumerate(batch["key"])]
        missing = [i for i, k in enumerate(ids) if k not in self._frozen_cache]
        if missing:
            fresh = self.net.encode_frozen(x[missing])
            for j, i in enumerate(missing):
                self._frozen_cache[ids[i]] = [t[j].detach().clone() for t in fresh]
        state = [torch.stack(parts) for parts in zip(*(self._frozen_cache[k] for k in ids),
                                                     strict=True)]
        return self.net.decode_from_frozen(state, tuple(x.shape[-2:]))

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        logits = self._logits(batch)
        total, parts = self.loss(logits, batch["density"], batch["fixations"])
        n = batch["image"].shape[0]
        self.log(f"{stage}/loss", total, batch_size=n, prog_bar=True, on_epoch=True,
                 on_step=stage == "train")
        for name, value in parts.items():
            self.log(f"{stage}/{name}", value, batch_size=n, prog_bar=stage == "val" and name == "cc",
                     on_epoch=True, on_step=False)
        return total

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self):
        encoder, rest = [], []
        for name, p in self.net.named_parameters():
            if not p.requires_grad:
                continue
            (encoder if name.startswith(("stem.", "blocks.")) else rest).append(p)
        hp = self.hparams
        optimizer = torch.optim.AdamW(
            [{"params": encoder, "lr": hp.encoder_lr}, {"params": rest, "lr": hp.lr}],
            weight_decay=hp.weight_decay,
        )
        total = self.trainer.estimated_stepping_batches if self.trainer else 1000
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[hp.encoder_lr, hp.lr],
            total_steps=max(1, int(total)),
            pct_start=0.1,
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def lr_scheduler_step(self, scheduler, metric=None) -> None:
        # A run resumed with a larger max_epochs goes past the restored one-cycle length:
        # hold the final learning rate for the extra steps instead of failing.
        total = getattr(scheduler, "total_steps", None)
        if total is not None and scheduler.last_epoch + 1 >= total:
            return
        scheduler.step()
