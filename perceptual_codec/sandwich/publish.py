"""Copy exported runs into ``weights/`` and print the sha256 lines for :data:`zoo.MODELS`.

``python -m perceptual_codec.sandwich.publish`` takes, for each shipped model, the
``export.pt`` that ``pcodec train sandwich`` wrote into the run folder of the model's config
(``trainer.default_root_dir`` of ``perceptual_codec/configs/sandwich_*.yaml``, relative to
the working directory as in training) and writes it as the zoo's file; paste the printed
hashes into zoo.py (a hash is only trusted once reviewed).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import yaml

from perceptual_codec.core.assets import file_sha256
from perceptual_codec.core.atomic import atomic_write_bytes
from perceptual_codec.sandwich.zoo import MODELS, WEIGHTS_DIR

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

#: shipped model -> the training config that makes it
CONFIGS = {
    "sandwich-jpeg": "sandwich_jpeg.yaml",
    "sandwich-jpeg-mse": "sandwich_jpeg_mse.yaml",
    "sandwich-avif": "sandwich_avif.yaml",
    "sandwich-avif-mse": "sandwich_avif_mse.yaml",
}


def run_dir(config: Path) -> Path:
    """The run folder a training config writes to (its ``trainer.default_root_dir``)."""
    cfg = yaml.safe_load(config.read_text()) or {}
    root = (cfg.get("trainer") or {}).get("default_root_dir")
    if not root:
        raise SystemExit(f"{config} sets no trainer.default_root_dir")
    return Path(root)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help=f"models to publish (default: all of {', '.join(CONFIGS)})")
    args = p.parse_args(argv)
    unknown = sorted(set(args.models) - set(CONFIGS))
    if unknown:
        p.error(f"unknown model {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    for name in args.models or CONFIGS:
        src = run_dir(CONFIG_DIR / CONFIGS[name]) / "export.pt"
        if not src.is_file():
            print(f"{name}: no {src}, skipped")
            continue
        dst = WEIGHTS_DIR / MODELS[name].file
        atomic_write_bytes(dst, src.read_bytes())
        print(f'{name}: {dst.name} {dst.stat().st_size / 1e3:.0f} kB sha256 "{file_sha256(dst)}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
