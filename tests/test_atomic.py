"""Atomic output: never a partial file, no stray temp files, overwrite and same-file guards."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from perceptual_codec.core import atomic
from perceptual_codec.core.atomic import (
    OutputExistsError,
    OutputWriteError,
    SameFileError,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    check_not_same_file,
)
from perceptual_codec.core.errors import UserFacingError


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_bytes_and_text(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01payload")
    atomic_write_text(tmp_path / "b.txt", "héllo\n")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01payload"
    assert (tmp_path / "b.txt").read_bytes() == "héllo\n".encode()
    assert _entries(tmp_path) == ["a.bin", "b.txt"]


def test_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old contents that are longer")
    atomic_write_bytes(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert _entries(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("exc", [RuntimeError("encoder crashed"), KeyboardInterrupt()])
def test_error_midway_leaves_old_file_and_no_temp(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")
    with pytest.raises(type(exc)):
        with atomic_open(target) as f:
            f.write(b"half of the new da")
            raise exc
    assert target.read_bytes() == b"previous"
    assert _entries(tmp_path) == ["out.png"]


def test_error_midway_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"
    with pytest.raises(ValueError, match="boom"):
        with atomic_open(target, "wb") as f:
            f.write(b"x" * 100_000)
            raise ValueError("boom")
    assert not target.exists()
    assert _entries(tmp_path) == []


def test_target_only_appears_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the moment of the rename the temp file already holds all the data, synced."""
    target = tmp_path / "big.bin"
    data = os.urandom(300_000)
    seen: dict[str, object] = {}
    real_replace, real_fsync = os.replace, os.fsync
    fsynced: list[int] = []

    def spy_fsync(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    def spy_replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        seen["exists_before"] = Path(dst).exists()
        seen["src_data"] = Path(src).read_bytes()
        seen["src_dir"] = Path(src).parent
        seen["fsync_before"] = bool(fsynced)
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy_replace)
    monkeypatch.setattr(atomic.os, "fsync", spy_fsync)
    atomic_write_bytes(target, data)
    assert seen["exists_before"] is False
    assert seen["src_data"] == data
    assert seen["src_dir"] == tmp_path  # same directory: the rename cannot cross filesystems
    assert seen["fsync_before"] is True
    assert target.read_bytes() == data


def test_overwrite_false_refuses_existing(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("precious")
    with pytest.raises(OutputExistsError, match="already exists") as info:
        atomic_write_text(target, "clobber", overwrite=False)
    assert isinstance(info.value, UserFacingError)
    assert str(target) in str(info.value)
    with pytest.raises(OutputExistsError):
        with atomic_open(target, "xb") as f:
            f.write(b"clobber")
    assert target.read_text() == "precious"
    assert _entries(tmp_path) == ["keep.txt"]


def test_overwrite_false_writes_new_file(tmp_path: Path) -> None:
    target = tmp_path / "fresh.bin"
    atomic_write_bytes(target, b"abc", overwrite=False)
    assert target.read_bytes() == b"abc"
    assert _entries(tmp_path) == ["fresh.bin"]


def test_overwrite_false_detects_file_created_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "race.bin"
    with pytest.raises(OutputExistsError):
        with atomic_open(target, "wb", overwrite=False) as f:
            f.write(b"mine")
            target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert _entries(tmp_path) == ["race.bin"]


def test_text_mode_encoding(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    with atomic_open(target, "w", encoding="latin-1") as f:
        f.write("café")
    assert target.read_bytes() == "café".encode("latin-1")


def test_permissions_follow_umask(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "p.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p.bin").stat().st_mode) == 0o644


def test_symlink_at_target_is_replaced_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.bin"
    real.write_bytes(b"real")
    link = tmp_path / "link.bin"
    try:
        link.symlink_to(real)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks unavailable")
    atomic_write_bytes(link, b"new")
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert real.read_bytes() == b"real"


def test_missing_directory_and_directory_target(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError, match="does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "out.bin", b"x")
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputWriteError, match="is a directory"):
        atomic_write_bytes(tmp_path / "adir", b"x")
    assert _entries(tmp_path) == ["adir"]
    assert _entries(tmp_path / "adir") == []


@pytest.mark.parametrize("mode", ["rb", "ab", "r+b", ""])
def test_rejects_non_write_modes(tmp_path: Path, mode: str) -> None:
    with pytest.raises(ValueError, match="write mode"):
        with atomic_open(tmp_path / "x", mode):
            pass
    assert _entries(tmp_path) == []


def test_caller_may_close_file_inside_block(tmp_path: Path) -> None:
    target = tmp_path / "c.bin"
    with atomic_open(target) as f:
        f.write(b"data")
        f.close()
    assert target.read_bytes() == b"data"


def test_check_not_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(b"image")
    other = tmp_path / "out.png"
    check_not_same_file(src, other)  # output absent: fine
    other.write_bytes(b"other")
    check_not_same_file(src, other)  # different file: fine
    with pytest.raises(SameFileError, match="refusing to overwrite the input"):
        check_not_same_file(src, src)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SameFileError):
        check_not_same_file("in.png", tmp_path / "sub" / ".." / "in.png")
    hard = tmp_path / "hard.png"
    try:
        os.link(src, hard)
    except OSError:
        pytest.skip("hard links unavailable")
    with pytest.raises(SameFileError):
        check_not_same_file(src, hard)
    check_not_same_file(src, hard, allow=True)
