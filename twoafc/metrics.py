"""Loading metrics by name or path, and exporting trained LPIPS weights.

A metric is an ``nn.Module`` mapping two (N, 3, H, W) batches in [0, 1] to (N,) distances
(lower = closer), differentiable with respect to its inputs and with frozen parameters, so
a codec can use it as a loss. Names: ``lpips-comp``, ``lpips-alex``, ``lpips-vgg``, ``psnr``,
``ssim``, ``ms-ssim``; or a path to an exported ``.pt`` (see :func:`save_metric`) or to a
Lightning ``.ckpt`` of :class:`twoafc.module.LPIPSTrainer`.

Exported file: ``torch.save`` of a plain dict ``{"format": "twoafc-lpips", "version": 1,
"net", "variant", "lin_init", "state_dict"}``; the state dict holds the lin layers and, for
``tune``/``scratch``, the trunk, in fp16 (``half=True``). Read with ``weights_only=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from perceptual_codec.core.atomic import atomic_open
from perceptual_codec.core.errors import UserFacingError

from .classic import CLASSIC
from .zoo import METRICS, weights_path

FORMAT = "twoafc-lpips"


class MetricLoadError(UserFacingError, ValueError):
    """A metric name is unknown or a weights file is not a metric this package wrote."""


def available_metrics() -> list[str]:
    return [*METRICS, *CLASSIC]


def metric_state(model: nn.Module, variant: str, half: bool = True) -> dict[str, torch.Tensor]:
    """The tensors an exported metric needs: lin layers, plus the trunk when it was trained."""
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("lins.") or (variant != "lin" and key.startswith("net.")):
            value = value.detach().cpu()
            state[key] = value.half() if half and value.is_floating_point() else value.clone()
    return state


def save_metric(
    model: nn.Module, path: str | os.PathLike, net: str, variant: str, lin_init: str,
    half: bool = True,
) -> Path:
    """Write the exported metric atomically; returns the path."""
    path = Path(path)
    payload = {
        "format": FORMAT, "version": 1, "net": net, "variant": variant, "lin_init": lin_init,
        "state_dict": metric_state(model, variant, half),
    }
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)
    return path


def export_checkpoint(ckpt: str | os.PathLike, out: str | os.PathLike, half: bool = True) -> Path:
    """Export the metric of a Lightning checkpoint of ``LPIPSTrainer`` to a small ``.pt``."""
    net, variant, lin_init, state = _from_checkpoint(Path(ckpt))
    model = _build(net, variant, state, Path(ckpt))
    return save_metric(model, out, net, variant, lin_init, half)


def _from_checkpoint(path: Path) -> tuple[str, str, str, dict]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise MetricLoadError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise MetricLoadError(f"{path} is not a Lightning checkpoint (no state_dict)")
    hp = ckpt.get("hyper_parameters", {})
    state = {k[len("metric."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("metric.")}
    if not state:
        raise MetricLoadError(f"{path} holds no LPIPS metric (no 'metric.*' weights)")
    return hp.get("net", "alex"), hp.get("variant", "lin"), hp.get("lin_init", "released"), state


def _build(net: str, variant: str, state: dict, source: Path) -> nn.Module:
    from .network import LPIPS

    has_trunk = any(k.startswith("net.") for k in state)
    if variant != "lin" and not has_trunk:
        raise MetricLoadError(f"{source}: a '{variant}' metric must include its trunk weights")
    model = LPIPS(net=net, lin="random", trunk="random" if has_trunk else "pretrained")
    own = model.state_dict()
    for key, value in state.items():
        if key not in own:
            raise MetricLoadError(f"{source}: unexpected tensor {key} for LPIPS-{net}")
        if own[key].shape != value.shape:
            raise MetricLoadError(
                f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
            )
    missing = [k for k in own if k.startswith("lins.") and k not in state]
    if missing:
        raise MetricLoadError(f"{source}: lin weights missing ({missing[0]}, ...)")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return model


def _load_file(path: Path, sha256: str | None = None) -> nn.Module:
    if not path.is_file():
        raise MetricLoadError(f"metric weights {path} do not exist")
    if sha256 is not None:
        from perceptual_codec.core.assets import verify_sha256

        verify_sha256(path, sha256, what=f"metric weights {path.name}")
    if path.suffix == ".ckpt":
        net, variant, _, state = _from_checkpoint(path)
        return _build(net, variant, state, path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise MetricLoadError(f"cannot read metric weights {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        if isinstance(payload, dict) and "state_dict" in payload and "hyper_parameters" in payload:
            net, variant, _, state = _from_checkpoint(path)
            return _build(net, variant, state, path)
        raise MetricLoadError(f"{path} is not a twoafc metric file (format {FORMAT!r})")
    if payload.get("version") != 1:
        raise MetricLoadError(f"{path}: unsupported metric file version {payload.get('version')}")
    return _build(payload["net"], payload["variant"], payload["state_dict"], path)


def load_metric(
    name_or_path: str | os.PathLike, device: str | torch.device = "cpu", spatial: bool = False
) -> nn.Module:
    """A frozen, eval-mode metric module by zoo name or weights path (works offline).

    ``spatial=True`` (LPIPS metrics only) makes it return (N, 1, H, W) distance maps, e.g.
    for a codec loss weighted by saliency.
    """
    key = str(name_or_path)
    if spatial and key in CLASSIC:
        raise MetricLoadError(f"spatial maps are available for LPIPS metrics, not {key!r}")
    if key in CLASSIC:
        model: nn.Module = CLASSIC[key]()
    elif key in ("lpips-alex", "lpips-vgg"):
        from .network import LPIPS

        model = LPIPS(net=key.split("-")[1])
    elif key in METRICS:
        model = _load_file(weights_path(key), METRICS[key]["sha256"])
    elif Path(key).suffix in (".pt", ".pth", ".ckpt") or Path(key).exists():
        model = _load_file(Path(key))
    else:
        raise MetricLoadError(
            f"unknown metric {key!r}; choose from {', '.join(available_metrics())} or give a "
            "path to a .pt/.ckpt file"
        )
    if spatial:
        model.spatial = True
    model.eval().requires_grad_(False)
    model.name = key if not isinstance(name_or_path, os.PathLike) else Path(key).stem
    return model.to(device)
