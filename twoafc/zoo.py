"""Named metrics of this package (a zoo in CompressAI's style) and their weights files.

Shipped weights sit in ``twoafc/weights/`` with a model card next to them; the sha256 here
is checked every time they load.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

# name -> (description, trunk asset it needs or None, shipped file or None, sha256 or None)
METRICS: dict[str, dict] = {
    "lpips-comp": {
        "description": "LPIPS-alex fine-tuned on human ratings of HEVC-intra + downscaled 4K "
        "images (see twoafc/MODEL_CARD_lpips_comp.md)",
        "trunk": "alexnet",
        "file": "lpips_comp.pt",
        "sha256": "fd60f388d8523be2ca605aaa091192b80f20e9bad1b75adabff8747455e02f20",
    },
    "lpips-alex": {
        "description": "LPIPS v0.1, AlexNet trunk, released lin layers (Zhang et al. 2018)",
        "trunk": "alexnet",
        "file": None,
        "sha256": None,
    },
    "lpips-vgg": {
        "description": "LPIPS v0.1, VGG16 trunk, released lin layers (Zhang et al. 2018)",
        "trunk": "vgg16",
        "file": None,
        "sha256": None,
    },
}

CLASSIC_DESCRIPTIONS = {
    "psnr": "PSNR over RGB (distance = MSE)",
    "ssim": "1 - SSIM (pytorch_msssim, Gaussian 11x11)",
    "ms-ssim": "1 - MS-SSIM (pytorch_msssim, 5 scales)",
}


def weights_path(name: str) -> Path | None:
    entry = METRICS.get(name)
    return WEIGHTS_DIR / entry["file"] if entry and entry["file"] else None


def _trunk_available(asset: str) -> bool:
    try:
        from perceptual_codec.core.assets import list_models as asset_rows
    except ImportError:
        return False
    return any(r["name"] == asset and r.get("available", False) for r in asset_rows())


def list_models() -> list[dict]:
    """Rows for ``pcodec models``: name, kind, description, available."""
    rows = []
    for name, entry in METRICS.items():
        path = weights_path(name)
        available = _trunk_available(entry["trunk"]) and (path is None or path.is_file())
        rows.append(
            {"name": name, "kind": "metric", "description": entry["description"],
             "available": available}
        )
    for name, description in CLASSIC_DESCRIPTIONS.items():
        rows.append({"name": name, "kind": "metric", "description": description, "available": True})
    return rows
