"""The ``pcodec`` command: one front door that dispatches to each package's own command
module, importing it only when that subcommand runs (so ``pcodec --help`` is fast and a
missing optional dependency only breaks its own subcommand)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from perceptual_codec import __version__
from perceptual_codec.core.errors import UserFacingError

# command -> (module with ``main(argv, prog)``, one-line help). Two-word commands
# ("train metric") are groups: the module receives the rest of the arguments.
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("perceptual_codec.commands.models", "list the named models and pretrained assets"),
    "compress": ("perceptual_codec.commands.compress", "compress an image"),
    "decompress": ("perceptual_codec.commands.decompress", "decompress a file to PNG"),
    "info": ("perceptual_codec.commands.info", "describe a compressed file"),
    "score": ("twoafc.commands.score", "perceptual distance between two images"),
    "saliency": ("saliency.commands.predict", "predict a saliency map for an image"),
    "twoafc": ("twoafc.commands.group", "2AFC study tools (make-pairs)"),
    "train": ("perceptual_codec.commands.train", "train a model (metric, saliency, codec, sandwich)"),
    "eval": ("perceptual_codec.commands.evaluate", "evaluate a model (2afc, saliency)"),
    "bench": ("benchmarks.commands", "benchmarks (rd, coco)"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pcodec",
        description="perceptual-codec: perceptual learned image compression toolkit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items())
        + "\n\nRun 'pcodec COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"pcodec {__version__}")
    parser.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--version":
        parser.parse_args(argv)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        parser.print_usage(sys.stderr)
        close = [c for c in COMMANDS if c.startswith(command[:2])]
        hint = f" (did you mean: {', '.join(close)}?)" if close else ""
        print(f"pcodec: error: unknown command '{command}'{hint}", file=sys.stderr)
        return 2
    module_name, _ = COMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(
            f"pcodec {command}: this command is not available: {exc}. "
            "Install the project with its dependencies (see README).",
            file=sys.stderr,
        )
        return 2
    try:
        return int(module.main(rest, prog=f"pcodec {command}") or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserFacingError as exc:
        print(f"pcodec {command}: error: {exc}", file=sys.stderr)
        return 1

if __name__ == "__main__":
    raise SystemExit(main())
