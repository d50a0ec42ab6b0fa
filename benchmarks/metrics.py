"""Quality metrics on 8-bit decodes, including saliency-aware ones.

Every metric sees what a user sees: the decoded file as uint8 RGB. Conventions follow
CompressAI's evaluation: PSNR over all RGB samples with peak 255, MS-SSIM (Wang et al. 2003,
five scales, 11x11 Gaussian window, data range 255) and its dB form -10 log10(1 - MS-SSIM),
LPIPS on [0, 1] inputs.

Saliency-aware metrics split each image into a salient region and the rest. The region is
the top ``salient_fraction`` (default 20%) of pixels ranked by the saliency map of the
*original* image (ties broken by position, so exactly that share of pixels is inside), from
the default saliency model, ``saliency.load_model("saliency")``, or the classic
"classic-mix" model when the learned weights are missing. PSNR inside/outside uses the MSE
over that region's pixels; LPIPS inside/outside is the mean of LPIPS's spatial distance map
over it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: MS-SSIM needs the image's short side above (11 - 1) * 2**4 = 160 pixels
MS_SSIM_MIN_SIDE = 161
DEFAULT_LPIPS = ("lpips-alex", "lpips-comp")
DEFAULT_SALIENCY = "saliency"
FALLBACK_SALIENCY = "classic-mix"
DEFAULT_SALIENT_FRACTION = 0.2


def _mse(ref: np.ndarray, dec: np.ndarray, mask: np.ndarray | None = None) -> float:
    diff = ref.astype(np.float64) - dec.astype(np.float64)
    sq = diff * diff
    if mask is not None:
        sq = sq[mask]
    return float(sq.mean())


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """PSNR in dB; identical images give +inf (kept, so a lossless codec is visible)."""
    return math.inf if mse <= 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(ref: np.ndarray, dec: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR-RGB in dB over all samples, or over the pixels where ``mask`` (HxW bool) is set."""
    return psnr_from_mse(_mse(ref, dec, mask))


def _to_tensor(image: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()


def ms_ssim(ref: np.ndarray, dec: np.ndarray) -> float:
    """MS-SSIM on RGB uint8 images (data range 255); NaN when the image is too small for
    five scales (short side < 161 px) rather than a number on a different scale."""
    if min(ref.shape[:2]) < MS_SSIM_MIN_SIDE:
        return math.nan
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    with torch.no_grad():
        return float(_ms_ssim(_to_tensor(ref), _to_tensor(dec), data_range=255.0))


def ms_ssim_db(value: float) -> float:
    """-10 log10(1 - MS-SSIM), the dB scale CompressAI's plots use."""
    if math.isnan(value):
        return math.nan
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def salient_mask(saliency_map: np.ndarray, fraction: float = DEFAULT_SALIENT_FRACTION) -> np.ndarray:
    """Boolean HxW mask of the top ``fraction`` of pixels by saliency (exact count; ties go
    to the earlier pixel in raster order, so a flat map still gives a fixed region)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"salient fraction must be in (0, 1), got {fraction}")
    s = np.asarray(saliency_map, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"saliency map must be HxW, got shape {s.shape}")
    flat = np.nan_to_num(s.ravel(), nan=0.0)
    k = max(1, min(flat.size - 1, int(round(fraction * flat.size))))
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, dtype=bool)
    mask[order[:k]] = True
    return mask.reshape(s.shape)


def lpips_features(model: Any, x: Any) -> list:
    """Unit-normalised trunk features of a (1,3,H,W) batch in [0,1], computed the way the
    ``lpips`` package's ``LPIPS.forward`` does, so an original's features can be reused for
    every decode of it."""
    import torch
    from lpips import normalize_tensor

    with torch.no_grad():
        inp = 2.0 * x - 1.0
        if getattr(model, "version", "0.1") == "0.1":
            inp = model.scaling_layer(inp)
        return [normalize_tensor(o) for o in model.net.forward(inp)]


def lpips_from_features(model: Any, f0: list, f1: list, size: tuple[int, int],
                        spatial: bool = False) -> tuple[float, np.ndarray | None]:
    """LPIPS distance (identical to ``model(x, y)``) and, with ``spatial``, the HxW map that
    ``LPIPS(spatial=True)`` returns, from one pass over the features."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        layers = []
        for k, (a, b) in enumerate(zip(f0, f1, strict=True)):
            d = (a - b) ** 2
            layers.append(model.lins[k](d) if model.lpips else d.sum(dim=1, keepdim=True))
        value = float(sum(layer.mean(dim=(2, 3), keepdim=True) for layer in layers).item())
        if not spatial:
            return value, None
        dmap = sum(F.interpolate(layer, size=size, mode="bilinear", align_corners=False)
                   for layer in layers)
        return value, dmap[0, 0].double().cpu().numpy()


def fingerprint(model: Any) -> str:
    """Short hash of a model's weights (its state dict), or its type name without one."""
    import hashlib

    state = getattr(model, "state_dict", None)
    if not callable(state):
        return type(model).__name__
    h = hashlib.sha256()
    for key, value in sorted(state().items()):
        h.update(key.encode())
        if hasattr(value, "detach"):
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:10]


class MetricSuite:
    """Loads the learned metrics and saliency model once (lazily, so it pickles cheaply into
    worker processes) and scores (original, decoded) pairs.

    ``lpips``: metric names for ``twoafc.load_metric``; one that cannot load is skipped and
    the reason kept in ``notes``. ``saliency``: model name, or None for no saliency columns.
    """

    def __init__(self, lpips: Sequence[str] = DEFAULT_LPIPS, saliency: str | None = DEFAULT_SALIENCY,
                 salient_fraction: float = DEFAULT_SALIENT_FRACTION, device: str = "cpu") -> None:
        self.lpips_names = tuple(lpips)
        self.saliency_name = saliency
        self.salient_fraction = float(salient_fraction)
        self.device = device
        self.notes: list[str] = []
        self._lpips: dict[str, Any] | None = None
        self._saliency: Any = None
        self.saliency_used: str | None = None
        self._saliency_loaded = False

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_lpips"], state["_saliency"], state["_saliency_loaded"] = None, None, False
        return state

    # -- models ---------------------------------------------------------------------
    @property
    def lpips_models(self) -> dict[str, Any]:
        if self._lpips is None:
            self._lpips = {}
            for name in self.lpips_names:
                try:
                    import twoafc

                    self._lpips[name] = twoafc.load_metric(name, device=self.device)
                except Exception as exc:  # noqa: BLE001 - skip the column, say why
                    self.notes.append(f"{name}: column skipped ({type(exc).__name__}: {exc})")
        return self._lpips

    def load_saliency(self) -> Any:
        """The saliency model (default, else the classic fallback), or None with a note."""
        if self._saliency_loaded:
            return self._saliency
        self._saliency_loaded = True
        if self.saliency_name is None:
            return None
        try:
            import saliency

            load_model = saliency.load_model
        except (ImportError, AttributeError) as exc:
            self.notes.append(f"saliency columns skipped: saliency.load_model unavailable ({exc})")
            return None
        names = [self.saliency_name]
        if self.saliency_name == DEFAULT_SALIENCY:
            names.append(FALLBACK_SALIENCY)
        for name in names:
            try:
                self._saliency = load_model(name)
                self.saliency_used = name
                if name != self.saliency_name:
                    self.notes.append(f"saliency model {self.saliency_name!r} could not load; "
                                      f"salient regions come from {name!r}")
                return self._saliency
            except Exception as exc:  # noqa: BLE001
                self.notes.append(f"saliency model {name!r} unavailable ({type(exc).__name__}: {exc})")
        self.notes.append("saliency columns skipped: no saliency model could load")
        return None

    def saliency_mask(self, image: np.ndarray) -> np.ndarray | None:
        """Salient-region mask of an original image, or None without a saliency model."""
        model = self.load_saliency()
        if model is None:
            return None
        smap = model.predict(image)
        if hasattr(smap, "detach"):
            smap = smap.detach().cpu().float().numpy()
        smap = np.asarray(smap, dtype=np.float64).squeeze()
        if smap.shape != image.shape[:2]:
            raise RuntimeError(f"saliency map {smap.shape} does not match image {image.shape[:2]}")
        return salient_mask(smap, self.salient_fraction)

    # -- scoring --------------------------------------------------------------------
    def reference(self, ref: np.ndarray, learned: bool = True) -> dict[str, Any]:
        """Per-original state reused across all decodes of it (LPIPS features of ``ref``)."""
        state: dict[str, Any] = {}
        if learned:
            x = _to_tensor(ref).div(255.0).to(self.device)
            for name, model in self.lpips_models.items():
                state[name] = lpips_features(model, x)
        return state

    def score(self, ref: np.ndarray, dec: np.ndarray, mask: np.ndarray | None = None,
              learned: bool = True, state: dict[str, Any] | None = None) -> dict[str, float]:
        """All metrics for one decode; ``mask`` from :meth:`saliency_mask` of ``ref`` and
        ``state`` from :meth:`reference` (computed here when not given)."""
        if ref.shape != dec.shape:
            raise ValueError(f"shapes differ: {ref.shape} vs {dec.shape}")
        row: dict[str, float] = {"psnr_rgb": psnr(ref, dec)}
        row["ms_ssim"] = ms_ssim(ref, dec)
        row["ms_ssim_db"] = ms_ssim_db(row["ms_ssim"])
        if mask is not None:
            row["psnr_sal_in"] = psnr(ref, dec, mask)
            row["psnr_sal_out"] = psnr(ref, dec, ~mask)
        if learned:
            if state is None:
                state = self.reference(ref, learned=True)
            y = _to_tensor(dec).div(255.0).to(self.device)
            for name, model in self.lpips_models.items():
                key = name.replace("-", "_")
                value, dmap = lpips_from_features(model, state[name], lpips_features(model, y),
                                                  ref.shape[:2], spatial=mask is not None)
                row[key] = value
                if dmap is not None:
                    row[f"{key}_sal_in"] = float(dmap[mask].mean())
                    row[f"{key}_sal_out"] = float(dmap[~mask].mean())
        return row

    def groups(self, learned: bool = True) -> list[str]:
        """Names of the metric groups this suite computes, each with a fingerprint of the
        weights behind it, so cached scores are reused only from the same models."""
        out = ["base"]
        sal = None
        if self.load_saliency() is not None:
            sal = f"{self.saliency_used}@{fingerprint(self._saliency)}/top{self.salient_fraction:g}"
            out.append(f"saliency:{sal}")
        if learned:
            for name, model in self.lpips_models.items():
                out.append(f"lpips:{name}@{fingerprint(model)}")
                if sal is not None:
                    out.append(f"lpips-saliency:{name}@{fingerprint(model)}:{sal}")
        return out

    def columns(self, learned: bool = True) -> list[str]:
        """The metric columns :meth:`score` fills in this configuration."""
        cols = ["psnr_rgb", "ms_ssim", "ms_ssim_db"]
        sal = self.load_saliency() is not None
        if sal:
            cols += ["psnr_sal_in", "psnr_sal_out"]
        if learned:
            for name in self.lpips_models:
                key = name.replace("-", "_")
                cols += [key] + ([f"{key}_sal_in", f"{key}_sal_out"] if sal else [])
        return cols

    def describe(self) -> dict[str, Any]:
        """What was measured, for the report and the cache key."""
        return {"lpips": list(self.lpips_names), "saliency": self.saliency_name,
                "salient_fraction": self.salient_fraction}
