"""Copy exported runs into ``weights/`` and print the sha256 lines for :data:`zoo.MODELS`.

``python -m perceptual_codec.sandwich.publish [RUNS_DIR]`` takes ``RUNS_DIR/<run>/export.pt``
for the runs jpeg, jpeg_mse, avif and avif_mse (the configs' folders) and writes them as the
zoo's files; paste the printed hashes into zoo.py (a hash is only trusted once reviewed).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from perceptual_codec.core.assets import file_sha256
from perceptual_codec.core.atomic import atomic_write_bytes
from perceptual_codec.sandwich.zoo import MODELS, WEIGHTS_DIR

RUNS = {
    "sandwich-jpeg": "jpeg",
    "sandwich-jpeg-mse": "jpeg_mse",
    "sandwich-avif": "avif",
    "sandwich-avif-mse": "avif_mse",
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="?", type=Path, default=Path("../runs/sandwich"))
    args = p.parse_args(argv)
    for name, run in RUNS.items():
        src = args.runs / run / "export.pt"
        if not src.is_file():
            print(f"{name}: no {src}, skipped")
            continue
        dst = WEIGHTS_DIR / MODELS[name].file
        atomic_write_bytes(dst, src.read_bytes())
        print(f'{name}: {dst.name} {dst.stat().st_size / 1e3:.0f} kB sha256 "{file_sha256(dst)}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
