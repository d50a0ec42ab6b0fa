"""``pcodec info FILE``: what a compressed file holds, without decoding it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence


def main(argv: Sequence[str], prog: str = "pcodec info") -> int:
    p = argparse.ArgumentParser(prog=prog, description="Describe a compressed file.")
    p.add_argument("file", help=".pcc or sandwich file")
    p.add_argument("--json", action="store_true", help="print JSON")
    args = p.parse_args(list(argv))
    from perceptual_codec import api

    d = api.info(api.read_file(args.file))
    if args.json:
        print(json.dumps(d, indent=2, default=str))
    else:
        for k, v in d.items():
            print(f"{k:>16}: {v:.4f}" if isinstance(v, float) else f"{k:>16}: {v}")
    return 0
