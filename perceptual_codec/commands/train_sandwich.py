"""``pcodec train sandwich --config FILE``: train sandwich pre/post-processors (LightningCLI).

The YAML holds the whole run (model, codec proxy, distortion, data, trainer). The run resumes
from the newest ``last.ckpt`` of its checkpoint folder unless ``--resume never``, so the same
command starts or continues a run; at the end the weights are exported for the zoo.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from perceptual_codec.core.errors import UserFacingError


def _resume_path(cli, resume: str) -> str | None:
    if resume == "never":
        return None
    if resume != "auto":
        if not Path(resume).is_file():
            raise UserFacingError(f"--resume: checkpoint not found: {resume}")
        return resume
    from pytorch_lightning.callbacks import ModelCheckpoint

    for cb in cli.trainer.callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.dirpath:
            last = Path(cb.dirpath) / "last.ckpt"
            if last.is_file():
                return str(last)
    return None


def main(argv: Sequence[str], prog: str = "pcodec train sandwich") -> int:
    pre = argparse.ArgumentParser(prog=prog, add_help=False)
    pre.add_argument("--resume", default="auto", help="auto (last.ckpt if present), never, or a path")
    pre.add_argument("--export", type=Path, help="where to write the exported weights (.pt)")
    pre.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    pre.add_argument("--export-only", action="store_true",
                     help="skip training: export the weights of the checkpoint --resume finds")
    ours, rest = pre.parse_known_args(list(argv))
    if not rest or rest[0] in ("-h", "--help"):
        print(
            f"usage: {prog} --config FILE [--resume auto|never|PATH] [--export OUT.pt] "
            "[--threads N] [LightningCLI overrides, e.g. --trainer.max_steps 100]\n\n"
            + (__doc__ or "")
        )
        if rest and rest[0] in ("-h", "--help"):
            print("LightningCLI options:\n")
            rest = ["--help"]
        else:
            return 0
    import torch
    from pytorch_lightning.cli import LightningCLI

    from perceptual_codec.data import ImageFolderDataModule
    from perceptual_codec.sandwich.export import export_weights
    from perceptual_codec.sandwich.lightning import LitSandwich

    if ours.threads > 0:
        torch.set_num_threads(ours.threads)
    cli = LightningCLI(
        LitSandwich,
        ImageFolderDataModule,
        run=False,
        args=rest,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": prog},
    )
    ckpt = _resume_path(cli, ours.resume)
    if ours.export_only:
        if not ckpt:
            raise UserFacingError("--export-only needs a checkpoint (none found by --resume)")
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        cli.model.on_load_checkpoint(state)  # upgrades checkpoints of older versions
        cli.model.load_state_dict(state["state_dict"])
        step = int(state.get("global_step", 0))
    else:
        if ckpt:
            print(f"resuming from {ckpt}")
        cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=ckpt)
        step = int(cli.trainer.global_step)
    out = ours.export or Path(cli.trainer.default_root_dir) / "export.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    export_weights(
        cli.model.model.cpu(),
        out,
        extra={"global_step": step, "rd_lambda": cli.model.rd_lambda.tolist()},
    )
    print(f"exported weights to {out}")
    return 0
