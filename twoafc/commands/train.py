"""``pcodec train metric --config CONFIG.yaml [--key.sub value ...]``: a LightningCLI run.

The YAML holds the whole run (model, data, trainer, callbacks); any key can be overridden on
the command line, e.g. ``--data.dataset.init_args.root /my/bapps/2afc/train``. The default
subcommand is ``fit``; ``validate`` and ``test`` can be given first.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

SUBCOMMANDS = ("fit", "validate", "test", "predict")


def main(argv: Sequence[str], prog: str = "pcodec train metric") -> int:
    from pytorch_lightning.cli import LightningCLI

    from twoafc.datamodule import TwoAFCDataModule
    from twoafc.module import LPIPSTrainer

    argv = list(argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["fit", *argv]
    elif not argv:
        argv = ["--help"]
    # LightningCLI reads sys.argv; hand it exactly this command's arguments.
    saved = sys.argv
    sys.argv = [prog, *argv]
    try:
        LightningCLI(
            LPIPSTrainer,
            TwoAFCDataModule,
            parser_kwargs={"prog": prog},
            save_config_kwargs={"overwrite": True},
        )
    finally:
        sys.argv = saved
    return 0
