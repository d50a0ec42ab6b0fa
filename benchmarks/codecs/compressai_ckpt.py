"""CompressAI architectures from a user's checkpoints, coded with CompressAI's real rANS
``compress``/``decompress``.

One checkpoint is one rate point, so the quality sweep is the list of checkpoints
(quality ``i`` = the i-th checkpoint, 1-based). The file is a small container holding
everything the decoder needs besides the weights:

    magic b"CAIB" | version u8 | quality u8 | weights tag (8 bytes of the checkpoint's
    sha256) | height u16 | width u16 | ndim u8 | latent shape ndim x u16 |
    n_groups u8 | per group: n_strings u8 | per string: length u32 + bytes

all big-endian. The tag lets a decoder refuse a file made with different weights.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.codecs.base import CodecAdapter, CodecUnavailableError
from perceptual_codec.core.errors import BitstreamError, UserFacingError

MAGIC = b"CAIB"
VERSION = 1
_HEAD = struct.Struct(">4sBB8sHHB")


def _architectures() -> dict[str, type]:
    from compressai.zoo.image import model_architectures

    return dict(model_architectures)


def _sha256(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def load_compressai_checkpoint(arch: str, path: str | Path) -> Any:
    """Build ``arch`` from a checkpoint (a state dict, or a training checkpoint holding one
    under "state_dict"/"model"), ready to entropy-code (``update()`` called when needed)."""
    import torch
    from compressai.zoo.pretrained import load_pretrained

    archs = _architectures()
    if arch not in archs:
        raise UserFacingError(f"unknown CompressAI architecture {arch!r}; choose from "
                              f"{', '.join(sorted(archs))}")
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"CompressAI checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise UserFacingError(f"cannot load CompressAI checkpoint {path}: {exc}") from exc
    if isinstance(ckpt, dict):
        for key in ("state_dict", "model", "network"):
            if isinstance(ckpt.get(key), dict):
                ckpt = ckpt[key]
                break
    if not isinstance(ckpt, dict) or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise UserFacingError(f"{path} does not hold a state dict of tensors")
    state = load_pretrained(ckpt)
    try:
        net = archs[arch].from_state_dict(state)
    except Exception as exc:  # noqa: BLE001
        raise UserFacingError(f"{path} does not match architecture {arch!r}: {exc}") from exc
    net.update()  # no-op when the checkpoint already holds the CDF tables
    return net.eval()


class CompressAICheckpointCodec(CodecAdapter):
    """A CompressAI zoo architecture with weights from ``ckpt`` (one path or several)."""

    name = "compressai-ckpt"
    extension = ".caib"
    quality_label = "checkpoint index"

    def __init__(self, qualities: Any = None, label: str | None = None,
                 arch: str = "bmshj2018-hyperprior",
                 ckpt: str | Path | list[str] | tuple[str, ...] = ()) -> None:
        parts = [ckpt] if isinstance(ckpt, str | Path) else list(ckpt)
        paths = [p for part in parts for p in str(part).split(",") if p]
        super().__init__(qualities, label or f"{arch}-ckpt")
        self.arch = arch
        self.paths = paths
        self.options = {"arch": arch, "ckpt": paths}
        if qualities is None:
            self.qualities = tuple(range(1, len(paths) + 1))
        self._nets: dict[int, Any] = {}
        self._tags: dict[int, bytes] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_nets"] = {}  # models are reloaded lazily in worker processes
        return state

    def available(self) -> tuple[bool, str]:
        if not self.paths:
            return False, "no checkpoint given (ckpt=PATH[,PATH...])"
        missing = [p for p in self.paths if not Path(p).is_file()]
        if missing:
            return False, f"checkpoint not found: {', '.join(missing)}"
        try:
            archs = _architectures()
        except ImportError as exc:
            return False, f"compressai is not importable ({exc})"
        if self.arch not in archs:
            return False, f"unknown architecture {self.arch!r} (choose from {', '.join(archs)})"
        return True, ""

    def settings(self) -> dict[str, Any]:
        return {"arch": self.arch, "container": f"CAIB v{VERSION}", "pad": "replicate to 64",
                "weights": [self._tag(i + 1).hex() if Path(p).is_file() else None
                            for i, p in enumerate(self.paths)]}

    def version(self) -> str:
        import compressai

        return f"compressai {compressai.__version__}"

    def _index(self, quality: Any) -> int:
        q = int(quality)
        if not 1 <= q <= len(self.paths):
            raise UserFacingError(f"codec {self.label}: quality {quality} is not a checkpoint "
                                  f"index in 1..{len(self.paths)}")
        return q

    def _tag(self, q: int) -> bytes:
        if q not in self._tags:
            self._tags[q] = _sha256(Path(self.paths[q - 1]))[:8]
        return self._tags[q]

    def net(self, quality: Any) -> Any:
        q = self._index(quality)
        if q not in self._nets:
            self.require()
            self._nets[q] = load_compressai_checkpoint(self.arch, self.paths[q - 1])
        return self._nets[q]

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        import torch
        import torch.nn.functional as F

        q = self._index(quality)
        net = self.net(q)
        h, w = image.shape[:2]
        x = torch.from_numpy(image).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
        ph, pw = (-h) % 64, (-w) % 64
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        with torch.no_grad():
            out = net.compress(x)
        shape = tuple(int(s) for s in out["shape"])
        parts = [_HEAD.pack(MAGIC, VERSION, q, self._tag(q), h, w, len(shape)),
                 struct.pack(f">{len(shape)}H", *shape), struct.pack(">B", len(out["strings"]))]
        for group in out["strings"]:
            parts.append(struct.pack(">B", len(group)))
            for s in group:
                parts.append(struct.pack(">I", len(s)) + bytes(s))
        return b"".join(parts)

    def decode(self, data: bytes) -> np.ndarray:
        import torch

        try:
            magic, version, q, tag, h, w, ndim = _HEAD.unpack_from(data, 0)
        except struct.error as exc:
            raise BitstreamError("CompressAI container too short") from exc
        if magic != MAGIC:
            raise BitstreamError("not a CompressAI-checkpoint container (bad magic)")
        if version != VERSION:
            raise BitstreamError(f"unsupported container version {version}")
        if self._tag(self._index(q)) != tag:
            raise BitstreamError("file was encoded with different weights than checkpoint "
                                 f"{self.paths[q - 1]}")
        try:
            off = _HEAD.size
            shape = struct.unpack_from(f">{ndim}H", data, off)
            off += 2 * ndim
            (ngroups,) = struct.unpack_from(">B", data, off)
            off += 1
            strings = []
            for _ in range(ngroups):
                (n,) = struct.unpack_from(">B", data, off)
                off += 1
                group = []
                for _ in range(n):
                    (length,) = struct.unpack_from(">I", data, off)
                    off += 4
                    if off + length > len(data):
                        raise BitstreamError("CompressAI container truncated")
                    group.append(data[off:off + length])
                    off += length
                strings.append(group)
        except struct.error as exc:
            raise BitstreamError("CompressAI container truncated") from exc
        if off != len(data):
            raise BitstreamError("trailing bytes after CompressAI container")
        try:
            with torch.no_grad():
                x_hat = self.net(q).decompress(strings, list(shape))["x_hat"]
        except CodecUnavailableError:
            raise
        x_hat = x_hat[0, :, :h, :w].clamp(0, 1)
        return x_hat.mul(255.0).round().byte().permute(1, 2, 0).contiguous().numpy()
