"""Shipped sandwich models: name -> weights file in ``weights/`` with its sha256.

Each model is one pre/post pair conditioned on its codec's quality ladder; ``quality`` is
the 1-based ladder position (like the hyperprior models' ``--quality``). A path to an
exported weights file (``pcodec train sandwich`` writes one) works wherever a name does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral
from pathlib import Path

from perceptual_codec.core.errors import AssetNotFoundError, UserFacingError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class ZooEntry:
    file: str
    sha256: str
    description: str
    codec: str = "jpeg"
    levels: int = 5

    @property
    def extension(self) -> str:
        return ".jpg" if self.codec == "jpeg" else f".{self.codec}"


MODELS: dict[str, ZooEntry] = {
    "sandwich-jpeg": ZooEntry(
        "sandwich_jpeg.pt",
        "99976fdf638223d6301f1bf8cab4869f639a480a9855f20eedffb6e3e7881fce",
        "JPEG sandwich (libjpeg 4:2:0, qualities 5/10/20/40/75), LPIPS + saliency recipe, post-only",
    ),
    "sandwich-jpeg-mse": ZooEntry(
        "sandwich_jpeg_mse.pt",
        "4ba2d1fc009772550d5497b6ca12c798374a4bc910325fa6249c921ec6447bda",
        "JPEG sandwich (libjpeg 4:2:0, qualities 5/10/20/40/75), MSE recipe, post-only",
    ),
    "sandwich-avif": ZooEntry(
        "sandwich_avif.pt",
        "0b3d62f7df57b3cd2e1846ebb919bc0490b8536969b27baf623c47bc3078d4e2",
        "AVIF sandwich (libavif 4:2:0, qualities 28/40/52/64/76), LPIPS + saliency recipe, post-only",
        "avif",
    ),
    "sandwich-avif-mse": ZooEntry(
        "sandwich_avif_mse.pt",
        "6b5e7928d80c829e479bf1ecaed68780d6eb2eaa03f6f46778e6ac7e4df6e624",
        "AVIF sandwich (libavif 4:2:0, qualities 28/40/52/64/76), MSE recipe, post-only",
        "avif",
    ),
}


def file_extension(name: str) -> str:
    """".jpg" or ".avif": what ``pcodec compress`` should name a file of this model."""
    if name not in MODELS:
        raise UserFacingError(f"unknown sandwich model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name].extension


def _path_and_hash(name: str) -> tuple[Path, str]:
    if name in MODELS:
        entry = MODELS[name]
        return WEIGHTS_DIR / entry.file, entry.sha256
    path = Path(name)
    if path.suffix in (".pt", ".pth") and path.is_file():
        return path, ""
    raise UserFacingError(
        f"unknown sandwich model {name!r}; known: {', '.join(MODELS)} (or a path to a .pt file)"
    )


def weights_path(name: str) -> Path:
    """Where the weights of a zoo model (or a ``.pt`` path given as the name) live."""
    return _path_and_hash(name)[0]


def _available(name: str) -> bool:
    path, sha = _path_and_hash(name)
    return path.is_file() and bool(sha)


def list_models() -> list[dict]:
    """Rows for ``pcodec models``."""
    return [
        {"name": n, "kind": "sandwich", "description": e.description, "available": _available(n)}
        for n, e in MODELS.items()
    ]


@lru_cache(maxsize=8)
def _load(name: str):
    from perceptual_codec.core.assets import file_sha256, verify_sha256
    from perceptual_codec.sandwich.export import load_weights

    path, sha = _path_and_hash(name)
    if not path.is_file():
        raise AssetNotFoundError(
            f"weights of sandwich model {name!r} are missing ({path}); reinstall the package "
            "or train them with 'pcodec train sandwich --config ...'"
        )
    if sha:
        verify_sha256(path, sha, what=f"sandwich model {name!r}")
    elif name in MODELS:
        raise AssetNotFoundError(f"sandwich model {name!r} has no released weights yet")
    model, _ = load_weights(path)
    return model, file_sha256(path)


def load_sandwich(name: str, quality: int):
    """(SandwichModel in eval mode, 0-based ladder level, weights sha256) for ``quality``
    (1..ladder length)."""
    if name in MODELS:
        _check_quality(name, quality, MODELS[name].levels)
    model, sha = _load(name)
    _check_quality(name, quality, model.levels)
    return model, quality - 1, sha


def _check_quality(name: str, quality: int, n: int) -> None:
    if isinstance(quality, bool) or not isinstance(quality, Integral) or not 1 <= quality <= n:
        raise UserFacingError(f"quality for {name!r} must be an integer 1..{n}, got {quality!r}")
