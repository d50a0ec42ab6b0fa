"""``pcodec train saliency --config CONFIG.yaml``: train the learned saliency model.

A LightningCLI run: the YAML names the network, the loss weights, the data folder and the
trainer, so one file is one training run (see ``saliency/configs/``). Re-running the same
command resumes from the last checkpoint (``--ckpt_path last``, the default).
``--export_to FILE.pt`` writes the best checkpoint as a shipped weights file when training
ends; ``--export_only true`` exports without training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def _build_cli(argv: Sequence[str], prog: str):
    import warnings

    from pytorch_lightning.cli import LightningCLI

    # pcodec hands its own argv over explicitly; Lightning would warn that sys.argv differs.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")

    from saliency.datamodule import SaliencyDataModule
    from saliency.training import SaliencyTraining

    class SaliencyCLI(LightningCLI):
        def add_arguments_to_parser(self, parser) -> None:
            parser.add_argument(
                "--ckpt_path", type=str | None, default="last",
                help="checkpoint to resume from: 'last' (default: resume if one exists), "
                "a path, or null to start fresh",
            )
            parser.add_argument("--export_to", type=str | None, default=None,
                                help="write the best checkpoint as a weights file here")
            parser.add_argument("--export_only", type=bool, default=False,
                                help="skip training; export the best/last checkpoint")

    return SaliencyCLI(
        SaliencyTraining,
        SaliencyDataModule,
        args=list(argv),
        run=False,
        parser_kwargs={"prog": prog, "description": __doc__},
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
    )


def _best_checkpoint(trainer) -> Path | None:
    cb = trainer.checkpoint_callback
    for candidate in (getattr(cb, "best_model_path", ""), getattr(cb, "last_model_path", "")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    dirpath = getattr(cb, "dirpath", None)
    if dirpath:
        found = sorted(Path(dirpath).glob("best*.ckpt")) or sorted(Path(dirpath).glob("last*.ckpt"))
        if found:
            return found[-1]
    return None


def main(argv: Sequence[str], prog: str = "pcodec train saliency") -> int:
    import torch

    from perceptual_codec.core.atomic import atomic_write_text
    from perceptual_codec.core.errors import UserFacingError
    from saliency.learned import export_weights

    cli = _build_cli(argv, prog)
    cfg = cli.config
    trainer, model, data = cli.trainer, cli.model, cli.datamodule

    run_dir = Path(trainer.default_root_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    split = data.split()
    atomic_write_text(run_dir / "split.json", json.dumps(split, indent=1) + "\n")

    if not cfg.export_only:
        ckpt = cfg.ckpt_path
        if ckpt not in (None, "last") and not Path(ckpt).is_file():
            raise UserFacingError(f"checkpoint not found: {ckpt}")
        trainer.fit(model, datamodule=data, ckpt_path=ckpt)

    if cfg.export_to:
        best = _best_checkpoint(trainer)
        if best is None:
            raise UserFacingError(f"no checkpoint to export under {run_dir}")
        state = torch.load(best, map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"])
        cb_state = next((v for k, v in state.get("callbacks", {}).items()
                         if k.startswith("ModelCheckpoint")), {})
        meta = {
            "checkpoint": best.name,
            "epoch": int(state.get("epoch", -1)),
            "global_step": int(state.get("global_step", -1)),
            "best_val": float(cb_state["best_model_score"]) if cb_state.get("best_model_score")
            is not None else None,
            "monitor": cb_state.get("monitor"),
            "data_dir": str(data.data_dir),
            "split": {k: len(v) for k, v in split.items()},
            "test_keys": split.get("test", []),
        }
        export_weights(model.net, cfg.export_to, area=data.area, meta=meta)
        print(f"exported {best} -> {cfg.export_to}")
    return 0
