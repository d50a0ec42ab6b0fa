"""The learned model at inference time, and its weights file.

A weights file is a plain ``torch.save`` dict (read with ``weights_only=True``):
``{"format": "pcodec-saliency/1", "arch": "SaliencyNet", "config": {...constructor args},
"area": int, "state_dict": {...fp16 tensors}, "meta": {...}}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from perceptual_codec.core.errors import AssetNotFoundError, UserFacingError
from saliency.base import SaliencyModel, normalize_maps
from saliency.net import SaliencyNet, to_probability, working_size

FORMAT = "pcodec-saliency/1"


class SaliencyWeightsError(UserFacingError, ValueError):
    """A saliency weights file is unreadable or not one of ours."""


class LearnedSaliency(SaliencyModel):
    """Wraps a :class:`SaliencyNet`: resizes each batch to the working size the net was
    trained at (about ``area`` pixels, aspect kept), predicts the fixation distribution and
    returns it at the input size, scaled to a maximum of 1."""

    def __init__(self, net: SaliencyNet, area: int = 192 * 256, name: str = "saliency") -> None:
        super().__init__()
        self.net = net.eval()
        self.area = area
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_batch(x)
        height, width = x.shape[-2:]
        size = working_size(height, width, self.area)
        dtype = next(self.net.parameters()).dtype
        small = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False,
                              antialias=True).clamp(0, 1).to(dtype)
        prob = to_probability(self.net(small))
        prob = F.interpolate(prob, size=(height, width), mode="bilinear", align_corners=False)
        return normalize_maps(prob)

    def train(self, mode: bool = True) -> LearnedSaliency:
        # Inference wrapper: the net stays in eval mode (batch-norm statistics frozen).
        super().train(mode)
        self.net.eval()
        return self


def export_weights(
    net: SaliencyNet, path: str | os.PathLike[str], area: int, meta: dict | None = None,
    half: bool = True,
) -> None:
    """Write ``net`` as a weights file (fp16 floating-point tensors when ``half``), atomically."""
    from perceptual_codec.core.atomic import atomic_open

    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in net.state_dict().items()
    }
    blob = {
        "format": FORMAT,
        "arch": type(net).__name__,
        "config": dict(net.config),
        "area": int(area),
        "state_dict": state,
        "meta": dict(meta or {}),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        torch.save(blob, f)


def load_weights(path: str | os.PathLike[str], name: str | None = None) -> LearnedSaliency:
    """Build the model stored in a weights file (float32 on CPU; needs no other asset)."""
    path = Path(path)
    if not path.is_file():
        raise AssetNotFoundError(f"saliency weights not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not ours"
        raise SaliencyWeightsError(f"cannot read saliency weights {path}: {exc}") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise SaliencyWeightsError(f"{path} is not a saliency weights file ({FORMAT})")
    if blob.get("arch") != "SaliencyNet":
        raise SaliencyWeightsError(f"{path}: unknown architecture {blob.get('arch')!r}")
    net = SaliencyNet(pretrained=False, **blob["config"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise SaliencyWeightsError(f"{path} does not match the SaliencyNet architecture: {exc}") from exc
    model = LearnedSaliency(net, area=int(blob["area"]), name=name or path.stem)
    model.meta = blob.get("meta", {})
    return model
