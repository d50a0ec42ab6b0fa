"""``pcodec train codec``: train the hyperprior codec from a LightningCLI YAML config.

    pcodec train codec fit --config perceptual_codec/configs/codec_sal_mshp.yaml \\
        --run_dir runs/codec/sal-mshp --ckpt_path last
    pcodec train codec export runs/codec/sal-mshp/checkpoints/last.ckpt -o weights.pt

``--run_dir`` holds the CSV logs and checkpoints (``checkpoints/last.ckpt`` plus one every
``--ckpt_every`` steps); ``--ckpt_path last`` resumes from it, or starts fresh when there is
none, so the same command starts and resumes. Multi-GPU/multi-node is configuration only:
``--trainer.strategy ddp --trainer.devices N --trainer.num_nodes K``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

SUBCOMMANDS = ("fit", "validate", "export")


def _export(argv: Sequence[str], prog: str) -> int:
    from perceptual_codec.zoo import export_checkpoint

    parser = argparse.ArgumentParser(prog=f"{prog} export",
                                     description="export a checkpoint to a small weights file")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--fp32", action="store_true", help="keep float32 (default: float16)")
    args = parser.parse_args(argv)
    info = export_checkpoint(args.checkpoint, args.output, fp16=not args.fp32)
    print(f"wrote {args.output} ({info['bytes'] / 1e6:.2f} MB, sha256 {info['sha256']})")
    return 0


def _cli(argv: Sequence[str], prog: str):
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.cli import LightningCLI
    from pytorch_lightning.loggers import CSVLogger

    from perceptual_codec.data import ImageFolderDataModule
    from perceptual_codec.lightning_codec import LitCodec

    class CodecCLI(LightningCLI):
        """LightningCLI plus ``--run_dir`` (logs + checkpoints), ``--ckpt_every`` and
        ``--threads``."""

        def add_arguments_to_parser(self, parser) -> None:
            parser.add_argument("--run_dir", type=str, default="runs/codec/default")
            parser.add_argument("--ckpt_every", type=int, default=250)
            parser.add_argument("--threads", type=int, default=0,
                                help="torch CPU threads (0 = torch's default)")

        def before_instantiate_classes(self) -> None:
            threads = self._get(self.config, "threads")
            if threads:
                torch.set_num_threads(threads)

        def instantiate_trainer(self, **kwargs):
            # Absolute, so a resume from another working directory still matches the
            # checkpoint's recorded dirpath (a mismatch made Lightning write ``last-v1.ckpt``).
            run_dir = Path(self._get(self.config, "run_dir")).resolve()
            trainer_cfg = self._get(self.config_init, "trainer", default={})
            callbacks = list(trainer_cfg.get("callbacks") or [])
            callbacks.append(
                ModelCheckpoint(
                    dirpath=run_dir / "checkpoints",
                    filename="step{step:07d}",
                    auto_insert_metric_name=False,
                    every_n_train_steps=self._get(self.config, "ckpt_every"),
                    save_top_k=-1,
                    save_last=True,
                    # Names are unique per step; ``last.ckpt`` must be overwritten, never
                    # versioned, or ``--ckpt_path last`` could pick a stale file.
                    enable_version_counter=False,
                )
            )
            kwargs.update(default_root_dir=str(run_dir), callbacks=callbacks,
                          logger=CSVLogger(str(run_dir), name="logs"))
            return super().instantiate_trainer(**kwargs)

    # ``args`` is how this command passes its argv; Lightning warns when sys.argv is also set
    # (it always is under ``pcodec``), but sys.argv must stay: the DDP launcher re-runs it.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    return CodecCLI(
        LitCodec,
        ImageFolderDataModule,
        args=list(argv),
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": prog, "description": "Train the hyperprior codec (LightningCLI)."},
        trainer_defaults={"enable_progress_bar": sys.stderr.isatty()},
    ), pl


def main(argv: Sequence[str], prog: str = "pcodec train codec") -> int:
    argv = list(argv)
    if argv and argv[0] == "export":
        return _export(argv[1:], prog)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["fit", *argv]  # `pcodec train codec --config X` means fit
    _cli(argv, prog)
    return 0


if __name__ == "__main__":  # Lightning's ddp launcher re-runs this module in each process
    raise SystemExit(main(sys.argv[1:], prog="pcodec train codec"))
