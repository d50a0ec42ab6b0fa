"""ImageNet classification consistency: does a classifier see the same thing after coding?

EfficientNet-Lite0 (ImageNet weights, available offline through the asset resolver) runs on
the original and on each decoded image; per codec and quality we report top-1 agreement
(argmax equal) and the mean KL(p_original || p_decoded) in nats. No labels are needed, so
any image set works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# EfficientNet-Lite was trained in TensorFlow on pixels scaled as (x - 127) / 128, not with
# the torchvision ImageNet mean/std; its eval crop is the central 224/(224 + 32) of the image.
LITE_MEAN = 127.0
LITE_STD = 128.0
CROP_PADDING = 32


class ImageNetClassifier:
    """EfficientNet-Lite0 with its own preprocessing; ``log_probs`` on uint8 images."""

    name = "efficientnet-lite0"

    def __init__(
        self,
        device: str = "cpu",
        weights: str | None = None,
        resolution: int = 224,
        model: Any = None,
    ) -> None:
        import torch

        if model is None:
            from efficientnet_lite_pytorch import EfficientNet

            from perceptual_codec.core.assets import load_asset_state_dict, resolve_asset

            model = EfficientNet.from_name("efficientnet-lite0")
            model.load_state_dict(load_asset_state_dict("efficientnet-lite0", weights))
            from perceptual_codec.core.assets import file_sha256

            self.weights_id = file_sha256(resolve_asset("efficientnet-lite0", weights))[:16]
        else:
            self.weights_id = "custom"
        # channels_last: depthwise convolutions run ~1.5x faster on CPU, same results on GPU.
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.resolution = int(resolution)
        self.device = torch.device(device)
        self.model.to(self.device)

    def to(self, device: Any) -> ImageNetClassifier:
        import torch

        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights_id, "resolution": self.resolution}

    def preprocess(self, image: np.ndarray):
        """Central crop (224/256 of the short side) -> bicubic resize -> Lite normalisation."""
        import torch
        import torch.nn.functional as F

        h, w = image.shape[:2]
        side = max(1, round(min(h, w) * self.resolution / (self.resolution + CROP_PADDING)))
        top, left = (h - side) // 2, (w - side) // 2
        crop = np.ascontiguousarray(image[top:top + side, left:left + side])
        x = torch.from_numpy(crop).to(self.device).permute(2, 0, 1).float().unsqueeze(0)
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bicubic",
                          align_corners=False, antialias=True).clamp_(0, 255)
        return (x[0] - LITE_MEAN) / LITE_STD

    def log_probs(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 1000) float32 log-softmax for a batch of RGB uint8 HxWx3 images."""
        import torch

        batch = torch.stack([self.preprocess(im) for im in images])
        batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            logits = self.model(batch)
        return torch.log_softmax(logits.float(), dim=1).cpu().numpy().astype(np.float32)


def consistency(reference: np.ndarray, decoded: np.ndarray) -> dict[str, float]:
    """Agreement of two (N, C) log-probability arrays (rows are the same images).

    ``top1_agreement``: share of images whose argmax is unchanged; ``top5_agreement``: share
    whose original top-1 is in the decoded top-5; ``kl``: mean KL(p_ref || p_dec) in nats.
    """
    reference = np.asarray(reference, dtype=np.float64)
    decoded = np.asarray(decoded, dtype=np.float64)
    if reference.shape != decoded.shape or reference.ndim != 2 or len(reference) == 0:
        raise ValueError(f"need two equal (N, C) arrays, got {reference.shape} and {decoded.shape}")
    top_ref = reference.argmax(axis=1)
    top1 = float(np.mean(decoded.argmax(axis=1) == top_ref))
    top5_dec = np.argsort(-decoded, axis=1)[:, :5]
    top5 = float(np.mean([t in row for t, row in zip(top_ref, top5_dec, strict=True)]))
    kl = np.sum(np.exp(reference) * (reference - decoded), axis=1)
    return {"top1_agreement": top1, "top5_agreement": top5, "kl": float(np.mean(np.maximum(kl, 0.0)))}
