"""Lightning callback that exports the trained metric as a small weights file at fit end."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from perceptual_codec.core.atomic import atomic_write_text

from .metrics import save_metric


class ExportMetric(pl.Callback):
    """At the end of ``fit``, write the metric (lin layers, plus trunk if tuned) to ``path``.

    Uses the best checkpoint of the run's ``ModelCheckpoint`` when it tracked a monitored
    score, else the final weights. Next to it, ``<path>.json`` records which weights were
    exported, the best score and its epoch (what leave-one-reference-out needs).
    """

    def __init__(self, path: str | os.PathLike, half: bool = True) -> None:
        self.path = Path(path)
        self.half = half

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        ckpt_cb = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
        best = ckpt_cb.best_model_path if ckpt_cb is not None and ckpt_cb.monitor else ""
        info: dict = {"exported_from": "final weights", "epochs_run": trainer.current_epoch}
        module = pl_module
        if best and Path(best).is_file():
            ckpt = torch.load(best, map_location="cpu", weights_only=True)
            params = inspect.signature(type(pl_module).__init__).parameters
            hp = {k: v for k, v in ckpt["hyper_parameters"].items() if k in params}
            module = type(pl_module)(**hp)
            module.load_state_dict(ckpt["state_dict"])
            info.update(
                exported_from=str(best), best_epoch=int(ckpt["epoch"]),
                monitor=ckpt_cb.monitor, best_score=float(ckpt_cb.best_model_score),
            )
        for key in ("val_2afc", "val_bce", "train_loss"):
            if key in trainer.callback_metrics:
                info[f"last_{key}"] = float(trainer.callback_metrics[key])
        hp = module.hparams
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_metric(module.metric, self.path, hp.net, hp.variant, hp.lin_init, self.half)
        atomic_write_text(self.path.with_suffix(self.path.suffix + ".json"),
                          json.dumps(info, indent=2) + "\n")
