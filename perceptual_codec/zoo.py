"""Named codec models (a zoo in CompressAI's style): ``name -> architecture, qualities,
weights``.

Weights live in ``perceptual_codec/weights/`` as small ``.pt`` files (float16 parameters
plus the entropy coder's CDF tables, so every machine codes with identical tables), each
verified against the sha256 recorded here before loading. ``PCODEC_WEIGHTS_DIR`` points the
zoo at another folder (e.g. freshly exported weights) without editing the package.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from perceptual_codec.core.errors import AssetNotFoundError, UserFacingError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FORMAT = "perceptual-codec-weights"
DEFAULT_MODEL = "sal-mshp"


@dataclass(frozen=True)
class ZooEntry:
    architecture: str
    filename: str
    sha256: str
    qualities: int
    default_quality: int
    description: str


MODELS: dict[str, ZooEntry] = {
    "sal-mshp": ZooEntry(
        architecture="sal-mshp",
        filename="sal_mshp.pt",
        sha256="085773b7e1b8ec45613ae4d66adc1eca3594801d7198da5d44f5b42ec0259553",
        qualities=5,
        default_quality=3,
        description="saliency-conditioned mean-scale hyperprior (default), 5 qualities",
    ),
    "mse-mshp": ZooEntry(
        architecture="sal-mshp",
        filename="mse_mshp.pt",
        sha256="6f05eb0f10497140a948b14d21a98eeba17daa3b184336875e74f129a8c7b6eb",
        qualities=5,
        default_quality=3,
        description="ablation: same network without saliency, plain MSE loss",
    ),
}


class UnknownModelError(UserFacingError, KeyError):
    """A model name that is not in the zoo."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def weights_path(name: str) -> Path:
    entry = get_entry(name)
    base = Path(os.environ.get("PCODEC_WEIGHTS_DIR", WEIGHTS_DIR))
    return base / entry.filename


def get_entry(name: str) -> ZooEntry:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise UnknownModelError(f"unknown codec model {name!r} (known: {known})") from None


def _available(name: str) -> bool:
    return weights_path(name).is_file()


def list_models() -> list[dict]:
    """Rows for ``pcodec models`` (plus the sandwich models when that package is present)."""
    rows = [
        {"name": n, "kind": "codec", "description": e.description, "available": _available(n)}
        for n, e in MODELS.items()
    ]
    try:
        from perceptual_codec.sandwich import zoo as sandwich_zoo
    except ImportError:
        return rows
    return rows + list(sandwich_zoo.list_models())


def state_digest(model: torch.nn.Module) -> bytes:
    """8-byte digest of a model's state (parameters + entropy tables) for the bitstream.

    Hashes float32 values so the same weights give the same digest whether they were stored
    in float16 or float32.
    """
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        t = value.detach().cpu()
        t = t.float() if t.is_floating_point() else t.long()
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.digest()[:8]


def load_weights_file(path: str | os.PathLike[str]) -> torch.nn.Module:
    """Build the network stored in a weights file (eval mode, entropy tables as stored)."""
    from perceptual_codec.models import build_model

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise UserFacingError(f"cannot read codec weights {path}: {exc}") from None
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise UserFacingError(f"{path} is not a perceptual-codec weights file")
    config = blob["config"]
    model = build_model(config["architecture"], **config["kwargs"])
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in blob["state_dict"].items()}
    model.load_state_dict(state)
    model.eval()
    model.pcodec_digest = state_digest(model)
    return model


@lru_cache(maxsize=4)
def _load_cached(name: str, path: str) -> torch.nn.Module:
    from perceptual_codec.core.assets import verify_sha256

    entry = get_entry(name)
    if entry.sha256 and "PCODEC_WEIGHTS_DIR" not in os.environ:
        verify_sha256(path, entry.sha256, what=f"codec weights {name!r}")
    model = load_weights_file(path)
    model.pcodec_name = name
    return model


def load_model(name: str = DEFAULT_MODEL, quality: int | None = None) -> torch.nn.Module:
    """The zoo model ``name`` ready to code (cached); checks ``quality`` if given.

    The returned network codes every quality of its ladder (``model.compress(x, s, q)``).
    """
    entry = get_entry(name)
    if quality is not None and not 1 <= int(quality) <= entry.qualities:
        raise UserFacingError(
            f"quality {quality} is out of range for {name!r} (1..{entry.qualities})"
        )
    path = weights_path(name)
    if not path.is_file():
        raise AssetNotFoundError(
            f"weights for codec model {name!r} not found at {path}; reinstall the package, "
            f"or train and export them (see perceptual_codec/MODEL_CARD.md)"
        )
    return _load_cached(name, str(path))


def save_weights(model: torch.nn.Module, output: str | os.PathLike[str], fp16: bool = True,
                 meta: dict | None = None) -> dict:
    """Write a model to a small weights file (float16 + CDF tables), atomically.

    The parameters are rounded to float16 *before* the entropy tables are rebuilt, so the
    stored tables belong exactly to the stored weights.
    """
    from perceptual_codec.core.assets import file_sha256
    from perceptual_codec.core.atomic import atomic_open

    if fp16:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.half().float())
    model.update(force=True)
    sd = model.state_dict()
    if fp16:  # parameters only: buffers hold bounds like 1e-9 that float16 would zero
        params = {name for name, _ in model.named_parameters()}
        sd = {k: (v.half() if k in params else v) for k, v in sd.items()}
    blob = {
        "format": WEIGHTS_FORMAT,
        "version": 1,
        "config": model.config(),
        "state_dict": sd,
        "meta": {"fp16": fp16, **(meta or {})},
    }
    with atomic_open(output, "wb") as f:
        torch.save(blob, f)
    return {"bytes": Path(output).stat().st_size, "sha256": file_sha256(output)}


def export_checkpoint(checkpoint: str | os.PathLike[str], output: str | os.PathLike[str],
                      fp16: bool = True) -> dict:
    """Lightning checkpoint of :class:`~perceptual_codec.lightning_codec.LitCodec` -> weights
    file (see :func:`save_weights`)."""
    from perceptual_codec.models import build_model

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config = ckpt.get("codec_config")
    if config is None:
        raise UserFacingError(f"{checkpoint} has no codec_config (not a codec checkpoint?)")
    model = build_model(config["architecture"], **config["kwargs"])
    prefix = "model."
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    model.load_state_dict(state)
    return save_weights(model, output, fp16=fp16,
                        meta={"global_step": int(ckpt.get("global_step", 0))})
