"""A restricted unpickler for third-party weight files stored as numpy pickles.

Plain ``pickle.load`` runs whatever callables a file names, so a weights file from a
package index could execute code. This unpickler resolves only the globals numpy needs to
rebuild arrays; anything else is refused before it is imported.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
from pathlib import Path
from typing import IO, Any

__all__ = ["RefusedGlobalError", "SafeUnpickler", "safe_load", "safe_loads"]

# (module, name) pairs a numpy-array pickle needs: ``_reconstruct`` (protocols 0-4) or
# ``_frombuffer`` (protocol 5), plus the array and dtype classes. numpy 2 moved
# ``numpy.core`` to ``numpy._core``; files written by numpy 1 name the old module, so both
# spellings map to the same objects. ``_codecs.encode`` (a pure function) is how protocols
# 0-2 spell bytes objects.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list (it might run arbitrary code)."""


def _import_numpy_core(submodule: str) -> Any:
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ModuleNotFoundError:  # numpy < 2
        return importlib.import_module(f"numpy.core.{submodule}")


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only numpy array reconstruction."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedGlobalError(
                f"refusing to unpickle global '{module}.{name}' (it could run code); this "
                "loader admits only numpy array data: "
                + ", ".join(sorted(f"{m}.{n}" for m, n in ALLOWED_GLOBALS))
            )
        if module.startswith("numpy."):
            return getattr(_import_numpy_core(module.rsplit(".", 1)[1]), name)
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedGlobalError(f"refusing persistent id {pid!r} in a numpy pickle")


def safe_load(path_or_file: str | os.PathLike[str] | IO[bytes]) -> Any:
    """Unpickle a file that may contain only builtin containers and numpy arrays."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with Path(path_or_file).open("rb") as f:
            return SafeUnpickler(f).load()
    return SafeUnpickler(path_or_file).load()


def safe_loads(data: bytes) -> Any:
    """``safe_load`` for bytes already in memory."""
    return SafeUnpickler(io.BytesIO(data)).load()
