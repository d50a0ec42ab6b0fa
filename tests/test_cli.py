"""The ``pcodec`` front door: help, version, dispatch and errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from perceptual_codec import __version__
from perceptual_codec.cli import COMMANDS, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perceptual_codec.cli", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"pcodec {__version__}"


def test_help_does_not_import_torch():
    code = (
        "import sys; from perceptual_codec.cli import main; main(['--help']); "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, "pcodec --help imported torch"


def test_unknown_command_is_a_clear_error(capsys):
    assert main(["compresss"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'compresss'" in err
    assert "compress" in err


def test_models_command_runs(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("alexnet", "vgg16", "efficientnet-lite0", "lpips-comp", "saliency"):
        assert name in out


@pytest.mark.parametrize("group", ["train", "eval", "bench", "twoafc"])
def test_group_help(group, capsys):
    assert main([group, "--help"]) == 0
    assert "subcommands:" in capsys.readouterr().out


def test_group_unknown_leaf(capsys):
    assert main(["train", "nonsense"]) == 2
    assert "unknown subcommand 'nonsense'" in capsys.readouterr().err


def test_every_command_module_has_help():
    """Every mapped command answers --help (its module exists and builds a parser)."""
    for name in COMMANDS:
        proc = run_cli(name, "--help")
        assert proc.returncode == 0, f"pcodec {name} --help failed: {proc.stderr[-500:]}"
        assert "usage:" in proc.stdout


def test_packages_import():
    import benchmarks  # noqa: F401
    import perceptual_codec  # noqa: F401
    import saliency  # noqa: F401
    import twoafc  # noqa: F401
