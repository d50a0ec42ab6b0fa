"""COCO detector weights, registered with the project's asset resolver.

The two torchvision COCO checkpoints resolve like every other pretrained asset
(``perceptual_codec.core.assets``): an explicit file (``--weights PATH``, the detector's
environment variable, or the file inside ``$PCODEC_ASSETS_DIR``), then the torch hub cache
(where torchvision's own ``weights=COCO_V1`` download puts it), then torchvision's download
(skipped when ``PCODEC_OFFLINE=1``). Files are checked against the sha256 prefix in
torchvision's file names, as ``torch.hub`` does. No offline source exists for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from perceptual_codec.core.assets import (
    AssetSpec,
    Source,
    asset_available,
    register_asset,
    resolve_asset,
)
from perceptual_codec.core.errors import AssetNotFoundError

_HINT = (
    "With pcodec bench coco, pass --weights /path/to/the/file. Without COCO weights use "
    "'--detector oracle' (ground truth checked against the image) or your own adapter "
    "('--detector module:factory')."
)


@dataclass(frozen=True)
class DetectorWeights:
    arch: str  # torchvision builder name
    enum: str  # torchvision weights enum (for the URL and metadata)
    filename: str
    sha256_prefix: str
    env_var: str
    url: str
    published: str  # torchvision's measured val2017 mAP, for the report

    @property
    def asset_name(self) -> str:
        return f"{self.arch}_coco"

    def asset_spec(self) -> AssetSpec:
        return AssetSpec(
            name=self.asset_name,
            description=f"COCO {self.arch} (torchvision {self.enum}; {self.published})",
            env_var=self.env_var,
            sources=(Source(self.filename, self.sha256_prefix, "torch"),),
            url=self.url,
            kind="detector",
            hint=_HINT,
        )


DETECTOR_WEIGHTS: dict[str, DetectorWeights] = {
    "fasterrcnn_resnet50_fpn": DetectorWeights(
        arch="fasterrcnn_resnet50_fpn",
        enum="FasterRCNN_ResNet50_FPN_Weights.COCO_V1",
        filename="fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
        sha256_prefix="258fb6c6",
        env_var="PCODEC_FASTERRCNN_WEIGHTS",
        url="https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
        published="box mAP 37.0",
    ),
    "maskrcnn_resnet50_fpn": DetectorWeights(
        arch="maskrcnn_resnet50_fpn",
        enum="MaskRCNN_ResNet50_FPN_Weights.COCO_V1",
        filename="maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
        sha256_prefix="bf2d0c1e",
        env_var="PCODEC_MASKRCNN_WEIGHTS",
        url="https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
        published="box mAP 37.9, mask mAP 34.6",
    ),
}

for _weights in DETECTOR_WEIGHTS.values():
    register_asset(_weights.asset_spec())


def _spec(arch: str) -> DetectorWeights:
    try:
        return DETECTOR_WEIGHTS[arch]
    except KeyError:
        raise AssetNotFoundError(
            f"no COCO weights are known for '{arch}'; known: {', '.join(DETECTOR_WEIGHTS)}"
        ) from None


def resolve_detector_weights(arch: str, path: str | os.PathLike[str] | None = None) -> Path:
    """A verified COCO checkpoint for ``arch``; raises AssetNotFoundError naming the file."""
    return resolve_asset(_spec(arch).asset_name, path)


def weights_available(arch: str) -> bool:
    """A local file exists (explicit, assets dir or hub cache); does not hash or download."""
    return asset_available(_spec(arch).asset_name)
