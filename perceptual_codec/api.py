"""Python API: ``compress(image) -> bytes``, ``decompress(bytes) -> uint8 HxWx3``, ``info``.

Sandwich models (names ``sandwich-*``) and JPEG/AVIF files are handed to
``perceptual_codec.sandwich.api`` (imported only then); everything else is the learned codec
in the ``.pcc`` container (see :mod:`perceptual_codec.container`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from perceptual_codec import container
from perceptual_codec.core.errors import BitstreamError, UserFacingError

ImageLike = str | os.PathLike | np.ndarray | torch.Tensor

# Extra zero bytes after each rANS string: CompressAI's decoder does not bounds-check its
# reads, so this keeps a (CRC-valid but inconsistent) string from reading past its buffer.
_RANS_GUARD_BYTES = 4096


def _as_array(image: ImageLike) -> np.ndarray:
    if isinstance(image, str | os.PathLike):
        from perceptual_codec.core.io import load_image_array

        return load_image_array(image)
    if isinstance(image, torch.Tensor):
        from perceptual_codec.core.io import to_uint8

        return to_uint8(image)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise UserFacingError(f"image must be HxWx3 (or HxW), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        else:
            raise UserFacingError(f"image must be uint8 or float in [0,1], got {arr.dtype}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise UserFacingError("image is empty")
    return arr


def _resolve_model(model) -> tuple[torch.nn.Module, str]:
    if isinstance(model, torch.nn.Module):
        name = getattr(model, "pcodec_name", None) or getattr(model, "architecture", "custom")
        if not hasattr(model, "pcodec_digest"):
            from perceptual_codec.zoo import state_digest

            model.pcodec_digest = state_digest(model)
        return model, name
    from perceptual_codec.zoo import load_model

    return load_model(str(model)), str(model)


def _is_sandwich_input(data: bytes) -> bool:
    head = bytes(data[:16])
    return head.startswith(b"\xff\xd8\xff") or head[4:12] in (b"ftypavif", b"ftypavis")


def _grey(arr: np.ndarray) -> bool:
    return bool((arr[:, :, 0] == arr[:, :, 1]).all() and (arr[:, :, 1] == arr[:, :, 2]).all())


def compress(image: ImageLike, model="sal-mshp", quality: int | None = None,
             saliency="auto") -> bytes:
    """Compress an image (path, uint8 HxWx3 array, or float tensor 3xHxW) to ``.pcc`` bytes.

    ``saliency``: ``"auto"`` (learned model if installed, else classic), ``"classic"``,
    ``"none"``, a mask image path, or an HxW array in [0, 1]. The map only steers the
    encoder; the decoder never needs it.
    """
    if isinstance(model, str) and model.startswith("sandwich-"):
        from perceptual_codec.sandwich.api import compress_sandwich

        kwargs = {} if quality is None else {"quality": quality}
        return compress_sandwich(_as_array(image), model=model, **kwargs)
    from perceptual_codec.models.saliency_maps import resolve_saliency

    arr = _as_array(image)
    net, name = _resolve_model(model)
    nq = int(getattr(net, "num_qualities", 1))
    if quality is None:
        from perceptual_codec.zoo import MODELS

        quality = MODELS[name].default_quality if name in MODELS else (nq + 1) // 2
    if not 1 <= int(quality) <= nq:
        raise UserFacingError(f"quality must be in 1..{nq} for model {name!r}, got {quality}")
    h, w = arr.shape[:2]
    if h > container.MAX_SIDE or w > container.MAX_SIDE or h * w > container.MAX_PIXELS:
        raise UserFacingError(f"image {w}x{h} is too large for the .pcc format")
    conditioned = bool(getattr(net, "conditioned", False))
    sal, source = resolve_saliency(saliency, arr) if conditioned else (None, "none")
    stride = int(net.downsampling_factor)
    ph, pw = (-h) % stride, (-w) % stride
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].float().div_(255)
    mode = "replicate" if (h > 1 and w > 1) or (ph == 0 and pw == 0) else "constant"
    x = F.pad(x, (0, pw, 0, ph), mode=mode) if (ph or pw) else x
    s = None
    if sal is not None:
        s = torch.from_numpy(np.ascontiguousarray(sal, np.float32))[None, None]
        s = F.pad(s, (0, pw, 0, ph), mode=mode) if (ph or pw) else s
    with torch.no_grad():
        out = net.compress(x, s, int(quality))
    y_strings, z_strings = out["strings"]
    lh, lw = (int(v) for v in out["shape"])
    header = container.Header(
        model=name,
        weights_digest=net.pcodec_digest,
        quality=int(quality),
        height=h,
        width=w,
        pad_bottom=ph,
        pad_right=pw,
        latent_height=lh,
        latent_width=lw,
        colour="grey" if _grey(arr) else "rgb",
        saliency=source,
    )
    return container.pack(header, [y_strings[0], z_strings[0]])


def _check_geometry(header: container.Header, net: torch.nn.Module) -> None:
    stride = int(net.downsampling_factor)
    hp, wp = header.height + header.pad_bottom, header.width + header.pad_right
    if header.pad_bottom >= stride or header.pad_right >= stride or hp % stride or wp % stride:
        raise BitstreamError("corrupt header: padding does not match the model's stride")
    if (header.latent_height, header.latent_width) != (hp // stride, wp // stride):
        raise BitstreamError("corrupt header: latent size does not match the image size")
    nq = int(getattr(net, "num_qualities", 1))
    if not 1 <= header.quality <= nq:
        raise BitstreamError(f"corrupt header: quality {header.quality} not in 1..{nq}")
    if len(header.section_lengths) != 2:
        raise BitstreamError("corrupt header: expected 2 sections (y, z)")


def decompress(data: bytes, model: torch.nn.Module | None = None) -> np.ndarray:
    """``.pcc`` (or sandwich JPEG/AVIF) bytes -> uint8 HxWx3 image.

    ``model`` overrides the zoo lookup (for models that are not in the zoo); its weights
    must still match the digest stored in the file.
    """
    data = bytes(data)
    if not container.looks_like_container(data):
        if _is_sandwich_input(data):
            from perceptual_codec.sandwich.api import decompress_sandwich

            return decompress_sandwich(data)
        container.parse_header(data)  # raises the specific reason (too short, wrong magic)
    header, sections = container.unpack(data)
    if model is None:
        from perceptual_codec.zoo import load_model

        net = load_model(header.model)
    else:
        net, _ = _resolve_model(model)
    if net.pcodec_digest != header.weights_digest:
        raise BitstreamError(
            f"this file was made with other weights of {header.model!r} (digest "
            f"{header.weights_digest.hex()}, installed {net.pcodec_digest.hex()}); install "
            "the pcodec version that wrote it"
        )
    _check_geometry(header, net)
    y_string, z_string = sections
    guard = b"\x00" * _RANS_GUARD_BYTES
    with torch.no_grad():
        out = net.decompress(
            [[y_string + guard], [z_string + guard]],
            (header.latent_height, header.latent_width),
            header.quality,
        )
    x_hat = out["x_hat"][0, :, : header.height, : header.width]
    arr = (x_hat.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    if header.colour == "grey":
        g = np.round(arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        arr = np.repeat(np.clip(g, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr)


def info(data: bytes) -> dict:
    """Facts about a compressed file (no decoding): format, model, quality, size, bpp."""
    data = bytes(data)
    if not container.looks_like_container(data):
        if _is_sandwich_input(data):
            from perceptual_codec.sandwich.api import describe

            return describe(data)
        container.parse_header(data)
    header, _ = container.unpack(data)
    d = {"container": "pcc", "bytes": len(data)}
    d.update(header.to_dict())
    d["bpp"] = 8.0 * len(data) / (header.height * header.width)
    return d


def read_file(path: str | os.PathLike, max_bytes: int = 512 * 1024 * 1024) -> bytes:
    """Read a compressed file with a size cap and a clear error."""
    p = Path(path)
    if not p.is_file():
        raise UserFacingError(f"input file not found: {p}")
    size = p.stat().st_size
    if size > max_bytes:
        raise BitstreamError(f"{p} is {size} bytes, more than any .pcc file can be")
    return p.read_bytes()
