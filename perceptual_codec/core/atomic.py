"""Atomic file output: a reader sees either the old file or the complete new one, never a part.

Everything the project writes for users (PNG decodes, compressed files, weights, reports) goes
through :func:`atomic_open`: data goes to a temporary file in the destination's own directory
(so the final rename stays on one filesystem), is flushed and fsynced, and only then replaces
the destination with :func:`os.replace`. Any exception inside the ``with`` block, including
``KeyboardInterrupt``, removes the temporary file and leaves the destination untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import UserFacingError

__all__ = [
    "OutputExistsError",
    "OutputWriteError",
    "SameFileError",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_not_same_file",
]

PathLike = str | os.PathLike[str]


class OutputExistsError(UserFacingError, FileExistsError):
    """The output path exists and the caller asked not to overwrite it."""


class SameFileError(UserFacingError, ValueError):
    """The output path names the input file."""


class OutputWriteError(UserFacingError, OSError):
    """The output cannot be written there (missing directory, a directory, no permission)."""


def _temp_name(path: Path) -> Path:
    # Hidden, recognisable and unique; same directory as the target so os.replace is atomic.
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _create_temp(path: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = _temp_name(path)
        try:
            # 0o666 filtered by the umask: the result gets the permissions a plain open() gives.
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise OutputWriteError(f"cannot create a temporary file next to {path}")


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open directories, so skip there.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_target(path: Path, overwrite: bool) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise OutputWriteError(
            f"cannot write {path}: the directory {parent} does not exist "
            "(create it first or choose another output path)"
        )
    if path.is_dir():
        raise OutputWriteError(f"cannot write {path}: it is a directory; give a file name")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputExistsError(
            f"{path} already exists; refusing to overwrite it "
            "(choose another name, delete it, or allow overwriting)"
        )


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    # No-clobber publish: a hard link fails if the target appeared meanwhile.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(
            f"{path} already exists; refusing to overwrite it "
            "(choose another name, delete it, or allow overwriting)"
        ) from None
    except OSError:
        # Filesystems without hard links: fall back to check-then-rename.
        if path.exists():
            raise OutputExistsError(f"{path} already exists; refusing to overwrite it") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(
    path: PathLike,
    mode: str = "wb",
    *,
    overwrite: bool = True,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it only appears once the block finishes without error.

    ``mode`` is a write mode (``"wb"``, ``"w"``, ``"xb"``, ``"x"``); ``"x"`` means
    ``overwrite=False``. With ``overwrite=False`` an existing ``path`` raises
    :class:`OutputExistsError` before anything is written. Symlinks at ``path`` are replaced,
    not followed.
    """
    if not mode or mode[0] not in "wx" or any(c not in "wxbt+" for c in mode):
        raise ValueError(f"atomic_open needs a write mode such as 'wb' or 'w', got {mode!r}")
    if "x" in mode:
        overwrite = False
        mode = mode.replace("x", "w")
    binary = "b" in mode
    if binary and (encoding is not None or newline is not None):
        raise ValueError("encoding/newline only apply to text mode")
    if not binary and encoding is None:
        encoding = "utf-8"

    path = Path(os.fspath(path))
    _check_target(path, overwrite)
    try:
        fd, tmp = _create_temp(path)
    except PermissionError as exc:
        raise OutputWriteError(f"cannot write {path}: permission denied ({exc.strerror})") from exc
    try:
        f = os.fdopen(fd, mode, encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        with f:
            yield f
            if not f.closed:  # the caller may have closed it already
                f.flush()
                os.fsync(f.fileno())
        _publish(tmp, path, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: PathLike, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb", overwrite=overwrite) as f:
        f.write(data)


def atomic_write_text(
    path: PathLike, text: str, *, encoding: str = "utf-8", overwrite: bool = True
) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "w", overwrite=overwrite, encoding=encoding) as f:
        f.write(text)


def check_not_same_file(
    input_path: PathLike, output_path: PathLike, *, allow: bool = False
) -> None:
    """Refuse an output that is the input file itself (same inode, link or spelling).

    Commands call this before writing so that ``pcodec decompress a.png -o a.png`` cannot
    destroy its own input by mistake; ``allow=True`` (a ``--force``-style flag) permits it.
    """
    if allow:
        return
    src, dst = Path(os.fspath(input_path)), Path(os.fspath(output_path))
    same = False
    try:
        same = src.exists() and dst.exists() and os.path.samefile(src, dst)
    except OSError:
        same = False
    if not same:
        same = src.resolve(strict=False) == dst.resolve(strict=False)
    if same:
        raise SameFileError(
            f"the output {dst} is the input file {src}; refusing to overwrite the input "
            "(choose another output path, or allow it explicitly)"
        )
