"""Saliency models that need no training data: baselines, and fallbacks for users who want
no learned model.

- ``spectral-residual``: Hou & Zhang, "Saliency detection: a spectral residual approach",
  CVPR 2007 (OpenCV's ``cv2.saliency.StaticSaliencySpectralResidual``).
- ``fine-grained``: Montabone & Soto, "Human detection using a mobile platform and novel
  features derived from a visual saliency mechanism", Image and Vision Computing 2010
  (OpenCV's ``cv2.saliency.StaticSaliencyFineGrained``; needs opencv-contrib).
- ``center``: the centre-bias prior, an anisotropic Gaussian at the image centre with
  standard deviations ``sigma`` times the height and width (default 0.15).
- ``classic-mix``: ``(spectral residual + fine grained) / 2``, each scaled to [0,1],
  multiplied by a centre prior of ``sigma`` 0.2, i.e. "conspicuous and near the centre".

The image-driven maps are computed with the longer side at ``work_side`` pixels (these
methods look at coarse structure; it also bounds their cost on huge images), blurred with a
Gaussian of ``blur`` (0.04) times the longer side, and resized to the input. The defaults
(``sigma``, ``blur``) are the best CC of a small grid on the 144 training images of the NUS
split (see ``saliency/MODEL_CARD.md``), never on the held-out images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from saliency.base import SaliencyModel, normalize_maps


def _cv2_saliency():
    import cv2

    if not hasattr(cv2, "saliency"):
        from perceptual_codec.core.errors import UserFacingError

        raise UserFacingError(
            "OpenCV's saliency module is missing: install opencv-contrib-python-headless "
            "(not plain opencv-python)"
        )
    return cv2


def center_prior(height: int, width: int, sigma: float = 0.15) -> torch.Tensor:
    """(height, width) Gaussian centre prior with peak 1; std = ``sigma`` * each side."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height - 0.5
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width - 0.5
    return torch.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2) / sigma**2)


class CenterBias(SaliencyModel):
    """Centre-bias prior: ignores the image content entirely."""

    def __init__(self, sigma: float = 0.15) -> None:
        super().__init__()
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = sigma
        self.name = "center"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_batch(x)
        n, _, h, w = x.shape
        return center_prior(h, w, self.sigma).to(x.device).expand(n, 1, h, w).clone()


class _OpenCVSaliency(SaliencyModel):
    """Runs an OpenCV static saliency algorithm per image at a reduced working size."""

    def __init__(self, work_side: int = 256, blur: float = 0.04) -> None:
        super().__init__()
        if work_side < 16:
            raise ValueError(f"work_side must be at least 16, got {work_side}")
        self.work_side = work_side
        self.blur = blur

    def _algorithm(self, cv2):
        raise NotImplementedError

    def _one(self, image: torch.Tensor) -> torch.Tensor:
        cv2 = _cv2_saliency()
        _, h, w = image.shape
        scale = min(1.0, self.work_side / max(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        small = F.interpolate(image[None].float(), size=size, mode="bilinear",
                              align_corners=False, antialias=True)[0]
        bgr = (small.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()[..., ::-1]
        ok, sal = self._algorithm(cv2).computeSaliency(np.ascontiguousarray(bgr))
        if not ok or sal is None:
            sal = np.zeros(size, dtype=np.float32)
        sal = np.asarray(sal, dtype=np.float32)
        if sal.ndim == 3:
            sal = sal[..., 0]
        if self.blur > 0:
            sigma = self.blur * max(size)
            sal = cv2.GaussianBlur(sal, (0, 0), sigmaX=sigma, sigmaY=sigma,
                                   borderType=cv2.BORDER_REPLICATE)
        t = torch.from_numpy(sal)[None, None]
        return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_batch(x)
        maps = torch.stack([self._one(img) for img in x.detach().cpu()])
        return normalize_maps(maps).to(x.device)


class SpectralResidual(_OpenCVSaliency):
    """Hou & Zhang (2007) spectral residual saliency."""

    def __init__(self, work_side: int = 256, blur: float = 0.04) -> None:
        super().__init__(work_side, blur)
        self.name = "spectral-residual"

    def _algorithm(self, cv2):
        return cv2.saliency.StaticSaliencySpectralResidual_create()


class FineGrained(_OpenCVSaliency):
    """Montabone & Soto (2010) fine-grained centre-surround saliency."""

    def __init__(self, work_side: int = 256, blur: float = 0.04) -> None:
        super().__init__(work_side, blur)
        self.name = "fine-grained"

    def _algorithm(self, cv2):
        return cv2.saliency.StaticSaliencyFineGrained_create()


class ClassicMix(SaliencyModel):
    """Mean of spectral residual and fine-grained maps, weighted by the centre prior."""

    def __init__(self, work_side: int = 256, blur: float = 0.04, sigma: float = 0.2) -> None:
        super().__init__()
        self.parts = torch.nn.ModuleList(
            [SpectralResidual(work_side, blur), FineGrained(work_side, blur)]
        )
        self.center = CenterBias(sigma)
        self.name = "classic-mix"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_batch(x)
        conspicuity = sum(part(x) for part in self.parts) / len(self.parts)
        return normalize_maps(conspicuity * self.center(x))
