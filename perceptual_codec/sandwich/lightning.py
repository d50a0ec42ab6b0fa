"""LightningModule for sandwich training: loss and optimisation only (data: a DataModule).

Loss per batch, at a ladder level drawn at random: ``D(x, x_hat) + lambda_l * bpp``, where
``bpp`` is the proxy's calibrated rate estimate. ``lambda_l`` defaults to the plain codec's
own RD slope at that level, ``-dD/dR`` measured with the real codec on the first training
batch in the units of ``D``: at initialisation the sandwich *is* the plain codec, so any
step that lowers this loss moves below the plain codec's RD curve rather than just along it.
With ``normalize_levels`` the loss is divided by the plain codec's distortion at the level
(measured on the same batch), so every level of the shared network counts by its relative
gain. The measured slopes and distortions are buffers, so a resumed run keeps them.
"""

from __future__ import annotations

import pickle
import random

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.rank_zero import rank_zero_info
from torch import nn

from perceptual_codec.core.errors import UserFacingError
from perceptual_codec.sandwich.export import FORMAT, model_config
from perceptual_codec.sandwich.model import SandwichModel
from perceptual_codec.sandwich.proxies.base import CodecProxy


def _image_and_saliency(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, dict):
        return batch["image"], batch.get("saliency")
    if isinstance(batch, list | tuple):
        return batch[0], None
    return batch, None


class LitSandwich(pl.LightningModule):
    """Trains a :class:`SandwichModel` across its codec's quality ladder.

    Args:
        codec: the codec proxy (e.g. JpegProxy, AvifProxy) with its ladder.
        distortion: MSEDistortion or PerceptualDistortion (or any ``d(x, x_hat, saliency)``).
        carrier: "rgb" or "gray" code image.
        downsample: code resolution factor.
        pre_channels / post_channels: U-Net widths.
        lr: Adam learning rate.
        rd_lambda: fixed lambdas per level; None measures the plain codec's slopes.
        lambda_scale: multiplies the measured slopes.
        val_levels: ladder levels evaluated in validation (None: all).
        seed: seed of the ladder-level draws.
        gate_lr_factor: learning-rate multiplier of the two bypass gates ``alpha``.
        train_pre: train the pre-processor through the proxy; False keeps it at its bypass
            initialisation and trains the post-processor on real decodes only (exact
            gradients, cheaper steps: the recipe for short CPU runs).
        normalize_levels: divide each level's loss by the plain codec's distortion at that
            level. The RD trade-off within a level is unchanged, but every level then counts
            by its *relative* gain (for MSE: its PSNR gain); without it the lowest quality,
            whose MSE is ~10x the highest's, dominates the gradients of a shared network.
        init_weights: an exported weights file (``export.pt`` or a shipped one) to start
            from, with a fresh optimiser: fine-tuning, or continuing under a changed loss
            (resuming a checkpoint would carry Adam's moments of the old loss scale).
    """

    def __init__(
        self,
        codec: CodecProxy,
        distortion: nn.Module,
        carrier: str = "rgb",
        downsample: int = 1,
        pre_channels: tuple[int, ...] = (16, 32, 64),
        post_channels: tuple[int, ...] = (16, 32, 64),
        lr: float = 1e-3,
        rd_lambda: list[float] | None = None,
        lambda_scale: float = 1.0,
        val_levels: list[int] | None = None,
        seed: int = 0,
        gate_lr_factor: float = 10.0,
        train_pre: bool = True,
        normalize_levels: bool = False,
        init_weights: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["codec", "distortion"])
        self.model = SandwichModel(codec, carrier, downsample, pre_channels, post_channels)
        self.distortion = distortion
        if init_weights:
            self._load_init_weights(init_weights)
        if not train_pre:
            self.model.pre.requires_grad_(False)
        n = self.model.levels
        given = rd_lambda is not None
        if given and len(rd_lambda) != n:
            raise ValueError(f"rd_lambda needs {n} values (one per ladder level)")
        self.register_buffer("rd_lambda", torch.tensor(rd_lambda or [0.0] * n))
        self.register_buffer("plain_distortion", torch.ones(n))
        self.register_buffer("lambda_ready", torch.tensor(given and not normalize_levels))
        self._rng = random.Random(seed)

    def _load_init_weights(self, path: str) -> None:
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as exc:
            raise UserFacingError(f"init_weights: cannot read {path}: {exc}") from exc
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise UserFacingError(f"init_weights: {path} is not a sandwich weights file")
        # the processors must match; the codec only in kind and ladder (its calibration, e.g.
        # the proxy's rate weights, stays this run's own)
        def shape(cfg: dict) -> dict:
            codec = cfg.get("codec", {})
            return {**cfg, "codec": {k: codec.get(k) for k in ("codec", "qualities")}}

        want, got = shape(model_config(self.model)), shape(blob.get("config") or {})
        if got != want:
            raise UserFacingError(f"init_weights: {path} was trained as {got}, this run is {want}")
        state = {k: v.float() for k, v in blob["state_dict"].items() if not k.startswith("codec.")}
        self.model.load_state_dict({**self.model.state_dict(), **state})

    # --- RD slopes of the plain codec -------------------------------------------------
    @torch.no_grad()
    def measure_slopes(
        self, x: torch.Tensor, saliency: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-dD/dR (finite differences) and D of the plain codec at every ladder quality."""
        codec = self.model.codec
        qs = codec.qualities
        probe = sorted(set(qs) | {max(1, qs[0] - max(2, qs[0] // 4)), min(100, qs[-1] + 5)})
        d, r = {}, {}
        for q in probe:
            x_hat = codec.real_roundtrip(x, q)
            d[q] = float(self.distortion(x, x_hat, saliency))
            r[q] = float(codec.real_bits(x, q).mean()) / (x.shape[-2] * x.shape[-1])
        slopes = []
        for i, q in enumerate(qs):
            j = probe.index(q)
            lo, hi = probe[max(j - 1, 0)], probe[min(j + 1, len(probe) - 1)]
            slope = -(d[hi] - d[lo]) / max(r[hi] - r[lo], 1e-6)
            slopes.append(max(slope, 0.0))
            rank_zero_info(f"level {i} (q={q}): D={d[q]:.5f} bpp={r[q]:.3f} slope={slope:.5f}")
        return torch.tensor(slopes), torch.tensor([max(d[q], 1e-12) for q in qs])

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if not bool(self.lambda_ready):
            x, s = _image_and_saliency(batch)
            slopes, plain = self.measure_slopes(x, s)
            if not self.hparams.rd_lambda:
                self.rd_lambda.copy_(slopes.to(self.rd_lambda))
            self.plain_distortion.copy_(plain.to(self.plain_distortion))
            self.lambda_ready.fill_(True)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # checkpoints from before ``plain_distortion`` existed: measure it on the next batch
        state = checkpoint["state_dict"]
        if "plain_distortion" not in state:
            state["plain_distortion"] = torch.ones_like(self.plain_distortion)
            if self.hparams.normalize_levels:
                state["lambda_ready"] = torch.tensor(False)
        for sched in checkpoint.get("lr_schedulers", []):  # older runs used MultiStepLR
            if "lr_lambdas" not in sched:
                for key in ("milestones", "gamma"):
                    sched.pop(key, None)
                sched["lr_lambdas"] = [None] * len(sched.get("base_lrs", [None, None]))

    # --- steps ------------------------------------------------------------------------
    def _step(self, x, saliency, level: int) -> dict[str, torch.Tensor]:
        out = self.model(x, level, through_proxy=self.hparams.train_pre)
        dist = self.distortion(x, out["x_hat"], saliency)
        bpp = out["bpp"].mean()
        lam = self.rd_lambda[level] * self.hparams.lambda_scale
        mse = (x - out["x_hat"].clamp(0, 1)).pow(2).mean()
        loss = dist + lam * bpp
        if self.hparams.normalize_levels:
            loss = loss / self.plain_distortion[level]
        return {
            "loss": loss,
            "distortion": dist,
            "bpp": bpp,
            "psnr": -10 * torch.log10(mse.clamp_min(1e-10)),
        }

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, s = _image_and_saliency(batch)
        level = self._rng.randrange(self.model.levels)
        logs = self._step(x, s, level)
        self.log("train/loss", logs["loss"], prog_bar=True)
        self.log_dict({f"train/{k}": v for k, v in logs.items() if k != "loss"})
        self.log("alpha/pre", self.model.pre.alpha.detach())
        self.log("alpha/post", self.model.post.alpha.detach())
        return logs["loss"]

    def validation_step(self, batch, batch_idx: int) -> None:
        x, s = _image_and_saliency(batch)
        levels = self.hparams.val_levels or range(self.model.levels)
        total = 0.0
        for level in levels:
            logs = self._step(x, s, level)
            total = total + logs["loss"]
            self.log(f"val/psnr_l{level}", logs["psnr"])
            self.log(f"val/bpp_l{level}", logs["bpp"])
            self.log(f"val/distortion_l{level}", logs["distortion"])
        self.log("val/loss", total / len(levels), prog_bar=True)

    def configure_optimizers(self):
        # the bypass gates learn faster than the weights behind them, so the networks' share
        # of the output can grow within a short CPU run
        gates = [g for g in (self.model.pre.alpha, self.model.post.alpha) if g.requires_grad]
        rest = [p for p in self.model.parameters() if p.requires_grad and all(p is not g for g in gates)]
        lr = self.hparams.lr
        opt = torch.optim.Adam(
            [{"params": rest, "lr": lr}, {"params": gates, "lr": lr * self.hparams.gate_lr_factor}]
        )
        if not (self.trainer and self.trainer.max_steps > 0):
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self._lr_factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _lr_factor(self, step: int) -> float:
        # x0.2 for the last 20% of ``trainer.max_steps``, read at every step (not stored in
        # the scheduler's state), so a resumed run with a longer ``max_steps`` moves the drop
        return 0.2 if step >= int(0.8 * self.trainer.max_steps) else 1.0
