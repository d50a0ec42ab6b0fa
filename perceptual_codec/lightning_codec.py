"""LightningModule for the codec: loss + optimisation only (data lives in ``data.py``).

Two optimisers, as in CompressAI's recipe: Adam on the network, and Adam on the entropy
bottleneck's quantiles (the "aux" loss). Their parameter sets are disjoint and the aux loss
does not depend on the data, so one backward of ``loss + aux_loss`` serves both; that keeps
manual optimisation compatible with DDP (one backward per forward, no unused parameters).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from compressai.models import CompressionModel
from torch import Tensor, nn

from .core.errors import UserFacingError
from .losses import RateDistortionLoss


class LitCodec(pl.LightningModule):
    """Trains a quality-ladder codec ``model(x, s, quality)`` with a rate-distortion loss.

    Args:
        model: a :class:`~compressai.models.CompressionModel` taking ``(x, s, quality)``.
        loss: the rate-distortion loss (one lambda per quality).
        saliency_model: computes maps ``(N,1,H,W)`` from images when batches carry none.
        saliency_dropout: probability of replacing an image's map by zeros ("no saliency"),
            so the same model also serves ``--saliency none``.
        lr, aux_lr: learning rates; ``lr`` is multiplied by ``lr_decay`` at each step count
            in ``lr_decay_steps`` (read from the config on resume, so a schedule can be
            extended).
        clip_max_norm: gradient clipping of the main parameters (0 = off).
        init_from: a training checkpoint (``.ckpt``) of the same architecture to start from
            (weights only; the optimiser starts fresh). When its lambda ladder differs from
            this run's, the per-quality gains are interpolated in log-lambda
            (:func:`~perceptual_codec.models.hyperprior.interpolate_log_gains`), so a trained
            model can be moved to a new rate ladder. Ignored in effect on resume, where the
            run's own checkpoint is loaded over it.
    """

    def __init__(
        self,
        model: CompressionModel,
        loss: RateDistortionLoss,
        saliency_model: nn.Module | None = None,
        saliency_dropout: float = 0.2,
        lr: float = 1e-4,
        aux_lr: float = 1e-3,
        lr_decay_steps: Sequence[int] = (),
        lr_decay: float = 0.1,
        clip_max_norm: float = 1.0,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model", "loss", "saliency_model"])
        self.automatic_optimization = False
        self.model, self.loss, self.saliency_model = model, loss, saliency_model
        if init_from:
            self._init_from(init_from)
        if saliency_model is not None:
            saliency_model.eval()
            for p in saliency_model.parameters():
                p.requires_grad_(False)

    def _init_from(self, path: str) -> None:
        from perceptual_codec.models.hyperprior import interpolate_log_gains

        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as exc:
            raise UserFacingError(f"init_from: cannot read {path}: {exc}") from exc
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "codec_config" not in ckpt:
            raise UserFacingError(f"init_from: {path} is not a codec training checkpoint")
        want, got = getattr(self.model, "config", dict)(), ckpt["codec_config"]

        def shape(cfg: dict) -> tuple:  # the ladder length may differ; nothing else may
            kwargs = cfg.get("kwargs", {})
            return cfg.get("architecture"), {k: v for k, v in kwargs.items() if k != "num_qualities"}

        if shape(got) != shape(want):
            raise UserFacingError(f"init_from: {path} was trained as {got}, this run is {want}")
        sd = ckpt["state_dict"]
        state = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
        src, dst = sd.get("loss.lmbdas"), self.loss.lmbdas
        if "log_gain" in state and src is not None and not (
            src.shape == dst.shape and torch.allclose(src, dst)
        ):
            for key in ("log_gain", "log_inv_gain"):
                state[key] = interpolate_log_gains(state[key], src, dst)
        elif "log_gain" in state and state["log_gain"].shape[0] != dst.numel():
            raise UserFacingError(f"init_from: {path} has {state['log_gain'].shape[0]} "
                                  f"qualities and no lambda ladder to map them to {dst.numel()}")
        self.model.load_state_dict(state)

    @property
    def num_qualities(self) -> int:
        return int(getattr(self.model, "num_qualities", 1))

    def _saliency(self, batch: dict[str, Tensor]) -> Tensor | None:
        s = batch.get("saliency")
        if s is None and self.saliency_model is not None:
            with torch.no_grad():
                s = self.saliency_model(batch["image"]).clamp(0, 1)
        return s

    def configure_optimizers(self):
        main = [p for n, p in self.model.named_parameters() if not n.endswith(".quantiles")]
        aux = [p for n, p in self.model.named_parameters() if n.endswith(".quantiles")]
        return (
            torch.optim.Adam(main, lr=self.hparams.lr),
            torch.optim.Adam(aux, lr=self.hparams.aux_lr),
        )

    def current_lr(self) -> float:
        passed = sum(self.global_step >= s for s in self.hparams.lr_decay_steps)
        return self.hparams.lr * self.hparams.lr_decay**passed

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x = batch["image"]
        s = self._saliency(batch)
        if s is not None and self.hparams.saliency_dropout > 0:
            keep = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.hparams.saliency_dropout)
            s = s * keep
        q = torch.randint(1, self.num_qualities + 1, (x.shape[0],), device=x.device)
        out = self.model(x, s, q)
        res = self.loss(out, x, q, s)
        aux = self.model.aux_loss()
        opt, aux_opt = self.optimizers()
        for group in opt.param_groups:
            group["lr"] = self.current_lr()
        opt.zero_grad()
        aux_opt.zero_grad()
        self.manual_backward(res["loss"] + aux)
        if self.hparams.clip_max_norm > 0:
            self.clip_gradients(opt, gradient_clip_val=self.hparams.clip_max_norm,
                                gradient_clip_algorithm="norm")
        opt.step()
        # The raw torch optimiser: Lightning's wrapper would count this as a second global
        # step per batch, and ``max_steps``/``lr_decay_steps`` are meant in batches.
        aux_opt.optimizer.step()
        logs = {f"train/{k}": v.detach() for k, v in res.items()}
        logs["train/aux"] = aux.detach()
        logs["train/lr"] = torch.tensor(self.current_lr())
        self.log_dict(logs, prog_bar=False, on_step=True, on_epoch=False, sync_dist=False)
        self.log("loss", res["loss"].detach(), prog_bar=True, on_step=True, on_epoch=False)
        return res["loss"]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        x = batch["image"]
        s = self._saliency(batch)
        total = 0.0
        for quality in range(1, self.num_qualities + 1):
            q = torch.full((x.shape[0],), quality, device=x.device, dtype=torch.long)
            out = self.model(x, s, q)
            res = self.loss(out, x, q, s)
            total = total + res["loss"]
            psnr = -10 * torch.log10(res["mse"].clamp_min(1e-10))
            self.log(f"val/bpp_q{quality}", res["bpp"], sync_dist=True)
            self.log(f"val/psnr_q{quality}", psnr, sync_dist=True)
        self.log("val/loss", total / self.num_qualities, prog_bar=True, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # What the exporter needs to rebuild the network without the YAML config.
        config = getattr(self.model, "config", None)
        if callable(config):
            checkpoint["codec_config"] = config()
