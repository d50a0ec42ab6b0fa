"""``pcodec models``: every named model and pretrained asset the project knows."""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Sequence

# Each registry module exposes ``list_models() -> list[dict]`` with at least
# "name", "kind" and "description"; optional "available" (weights found offline).
# Modules without ``list_models`` only register assets with the resolver on import (the
# CLI layer sits above every package, so it may import benchmarks here).
REGISTRIES = (
    "benchmarks.coco.weights",
    "perceptual_codec.core.assets",
    "twoafc.zoo",
    "saliency.zoo",
    "perceptual_codec.zoo",
)


def collect() -> list[dict]:
    rows: list[dict] = []
    for module_name in REGISTRIES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, "list_models"):
            rows.extend(module.list_models())
    return rows


def main(argv: Sequence[str], prog: str = "pcodec models") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--kind", help="only list models of this kind (e.g. codec, metric)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(list(argv))
    rows = [r for r in collect() if args.kind is None or r["kind"] == args.kind]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no models registered")
        return 0
    width = max(len(r["name"]) for r in rows)
    kwidth = max(len(r["kind"]) for r in rows)
    for r in rows:
        mark = "" if r.get("available", True) else "  [weights not found]"
        print(f"{r['name']:<{width}}  {r['kind']:<{kwidth}}  {r['description']}{mark}")
    return 0
