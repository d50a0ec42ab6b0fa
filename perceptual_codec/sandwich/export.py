"""Shipped-weights files: a small ``torch.save`` dict readable with ``weights_only=True``.

Layout: ``{"format": "pcodec-sandwich-weights", "version": 1, "config": {...},
"state_dict": {...}}`` with the processors' tensors in fp16 (their accuracy is far beyond
the 8-bit code image) and the proxy's buffers alongside.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from perceptual_codec.core.atomic import atomic_open
from perceptual_codec.core.errors import AssetNotFoundError
from perceptual_codec.sandwich.model import SandwichModel
from perceptual_codec.sandwich.proxies import build_proxy

FORMAT = "pcodec-sandwich-weights"
VERSION = 1


def model_config(model: SandwichModel) -> dict:
    return {
        "codec": model.codec.config(),
        "carrier": model.carrier,
        "downsample": model.pre.downsample,
        "pre_channels": [m[0].out_channels for m in model.pre.unet.enc],
        "post_channels": [m[0].out_channels for m in model.post.unet.enc],
    }


def export_weights(model: SandwichModel, path: str | os.PathLike, extra: dict | None = None):
    """Write ``model`` to ``path`` atomically (fp16 processors)."""
    state = {
        k: (v.detach().half() if v.is_floating_point() and not k.startswith("codec.") else v)
        for k, v in model.state_dict().items()
    }
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "config": model_config(model),
        "state_dict": state,
        "extra": extra or {},
    }
    with atomic_open(Path(path), "wb") as f:
        torch.save(blob, f)


def load_weights(path: str | os.PathLike) -> tuple[SandwichModel, dict]:
    """Rebuild a :class:`SandwichModel` (eval mode, fp32) from an exported file."""
    path = Path(path)
    if not path.is_file():
        raise AssetNotFoundError(f"sandwich weights not found: {path}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise AssetNotFoundError(f"{path} is not a sandwich weights file")
    if blob.get("version") != VERSION:
        raise AssetNotFoundError(f"{path}: unsupported sandwich weights version {blob.get('version')}")
    cfg = blob["config"]
    codec_cfg = dict(cfg["codec"])
    codec_cfg["real_forward"] = False
    model = SandwichModel(
        build_proxy(codec_cfg),
        carrier=cfg["carrier"],
        downsample=cfg["downsample"],
        pre_channels=tuple(cfg["pre_channels"]),
        post_channels=tuple(cfg["post_channels"]),
    )
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model.eval(), blob
