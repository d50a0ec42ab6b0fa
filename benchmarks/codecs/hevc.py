"""HEVC intra 4:4:4 (the BPG recipe) through the ffmpeg binary and libx265.

The file is the raw Annex-B HEVC bitstream (VPS/SPS/PPS + one IDR slice): it carries the
picture size and colour signalling, so it is all a decoder needs, and its size is the rate.
x265's informational SEI (encoder version string, ~1-2 kB) is switched off, as BPG does.
Colour: RGB -> full-range BT.601 Y'CbCr 4:4:4, 8 bit, and back (BPG's default).
Tuning: ``-tune psnr`` by default (no psycho-visual RDO), so the usual PSNR anchor is not
handicapped: on kodim01 it gains about 0.5 dB at equal rate over x265's default tuning.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from typing import Any

import numpy as np

from benchmarks.codecs.base import CodecAdapter

_SWS = "flags=accurate_rnd+full_chroma_int+bitexact"


@functools.lru_cache(maxsize=4)
def _probe(binary: str) -> tuple[bool, str, str]:
    """(usable, reason, version) for an ffmpeg binary; cached per process."""
    path = shutil.which(binary)
    if path is None:
        return (False, f"the '{binary}' binary is not on PATH (install ffmpeg with libx265, "
                       "e.g. 'apt-get install ffmpeg')", "")
    try:
        out = subprocess.run([path, "-hide_banner", "-encoders"], capture_output=True,
                             text=True, timeout=30, check=False).stdout
        ver = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30,
                             check=False).stdout.splitlines()
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"could not run {path}: {exc}", ""
    if "libx265" not in out:
        return False, f"{path} was built without libx265", ""
    return True, "", (ver[0] if ver else "ffmpeg")


class HEVCCodec(CodecAdapter):
    """libx265 intra-only, constant QP; the quality number is the QP (lower = better)."""

    name = "hevc"
    extension = ".hevc"
    qualities = (22, 25, 28, 31, 34, 37, 40, 43, 46)
    quality_label = "qp"
    higher_is_better = False

    def __init__(self, qualities: Any = None, label: str | None = None, ffmpeg: str = "ffmpeg",
                 preset: str = "medium", tune: str = "psnr") -> None:
        super().__init__(qualities, label)
        self.options = {"ffmpeg": ffmpeg, "preset": preset, "tune": tune}
        self.ffmpeg = ffmpeg
        self.preset = preset
        self.tune = tune

    def available(self) -> tuple[bool, str]:
        ok, why, _ = _probe(self.ffmpeg)
        return ok, why

    def version(self) -> str:
        return _probe(self.ffmpeg)[2]

    def settings(self) -> dict[str, Any]:
        return {"encoder": "libx265", "preset": self.preset, "tune": self.tune, "chroma": "4:4:4",
                "matrix": "bt601", "range": "full", "keyint": 1, "info_sei": False}

    def _run(self, args: list[str], data: bytes) -> bytes:
        self.require()
        cmd = [shutil.which(self.ffmpeg) or self.ffmpeg, "-hide_banner", "-nostdin",
               "-loglevel", "error", *args]
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=600, check=False)
        if proc.returncode != 0 or not proc.stdout:
            msg = proc.stderr.decode(errors="replace").strip()[-500:]
            raise RuntimeError(f"ffmpeg failed (exit {proc.returncode}): {msg}")
        return proc.stdout

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        h, w = image.shape[:2]
        qp = int(quality)
        params = ":".join([f"qp={qp}", "keyint=1", "info=0", "range=full",
                           "colormatrix=bt470bg", "log-level=error"])
        return self._run([
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "pipe:0",
            "-vf", f"scale=out_color_matrix=bt601:out_range=full:{_SWS}",
            "-pix_fmt", "yuv444p", "-color_range", "pc", "-colorspace", "bt470bg",
            "-c:v", "libx265", "-preset", self.preset,
            *(["-tune", self.tune] if self.tune and self.tune != "none" else []),
            "-x265-params", params,
            "-frames:v", "1", "-f", "hevc", "pipe:1",
        ], image.tobytes())

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import Image

        ppm = self._run([
            "-f", "hevc", "-i", "pipe:0",
            "-vf", f"scale=in_color_matrix=bt601:in_range=full:{_SWS}",
            "-pix_fmt", "rgb24", "-frames:v", "1", "-c:v", "ppm", "-f", "image2pipe", "pipe:1",
        ], data)
        with Image.open(io.BytesIO(ppm)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
