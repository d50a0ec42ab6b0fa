"""Dispatch for two-word commands (``pcodec train metric``): each leaf lives in its own
package's command module and is imported only when it runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence


def run_group(
    argv: Sequence[str],
    prog: str,
    leaves: Mapping[str, tuple[str, str]],
    description: str,
) -> int:
    """Run ``prog LEAF ...`` where ``leaves`` maps a leaf name to (module, help).

    The module must define ``main(argv, prog) -> int``.
    """
    argv = list(argv)
    epilog = "\n".join(f"  {name:<12} {help_}" for name, (_, help_) in leaves.items())
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="subcommands:\n" + epilog + f"\n\nRun '{prog} SUBCOMMAND --help' for its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("subcommand", nargs="?", choices=list(leaves), help=argparse.SUPPRESS)
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    leaf = argv[0]
    if leaf not in leaves:
        parser.print_usage(sys.stderr)
        print(f"{prog}: error: unknown subcommand '{leaf}' (choose from {', '.join(leaves)})",
              file=sys.stderr)
        return 2
    module_name, _ = leaves[leaf]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(f"{prog} {leaf}: not available: {exc}", file=sys.stderr)
        return 2
    return int(module.main(argv[1:], prog=f"{prog} {leaf}") or 0)
