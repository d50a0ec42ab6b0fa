"""The learned saliency network: an EfficientNet-Lite0 encoder, a small top-down decoder and a
learned centre prior.

People look near the centre of a picture more than anywhere else, whatever it shows, so the
head sees a few learned Gaussian prior maps next to the image features (as in SAM, Cornia et
al. 2018) and can learn how much of that bias the data carries. The network returns
per-pixel logits; ``softmax`` over all pixels turns them into a fixation probability map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Lite0 block indices whose outputs feed the decoder (strides 8, 16, 32) and their widths.
_TAPS = (4, 10, 15)
_TAP_CHANNELS = (40, 112, 320)
# EfficientNet-Lite was trained in TensorFlow on inputs scaled as (x*255 - 127) / 128.
_MEAN = 0.5
_STD = 0.5


class CenterPrior(nn.Module):
    """``num_maps`` learned Gaussian maps over normalised image coordinates.

    Means start at the centre, standard deviations spread between 0.1 and 0.5 of the
    side, so the head can pick a tight or wide bias; all are trained with the network.
    """

    def __init__(self, num_maps: int = 8) -> None:
        super().__init__()
        self.mu = nn.Parameter(torch.full((num_maps, 2), 0.5))
        sig = torch.linspace(0.1, 0.5, num_maps)
        self.log_sigma = nn.Parameter(torch.stack([sig, sig], dim=1).log())

    def forward(self, height: int, width: int) -> torch.Tensor:
        """Return (1, num_maps, height, width) maps with peak value 1."""
        device = self.mu.device
        ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
        xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
        sigma = self.log_sigma.float().exp()
        mu = self.mu.float()
        gy = torch.exp(-0.5 * ((ys[None, :] - mu[:, 1:2]) / sigma[:, 1:2]) ** 2)
        gx = torch.exp(-0.5 * ((xs[None, :] - mu[:, 0:1]) / sigma[:, 0:1]) ** 2)
        return (gy[:, :, None] * gx[:, None, :]).unsqueeze(0)


def _conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SaliencyNet(nn.Module):
    """Encoder-decoder saliency network; ``forward(x)`` takes (N,3,H,W) in [0,1], returns
    (N,1,H,W) logits (use :func:`to_probability` for a map that sums to one).

    Args:
        decoder_channels: width of the top-down path.
        prior_maps: number of learned centre-prior Gaussians.
        pretrained: load ImageNet weights for the encoder through the asset resolver
            (``efficientnet-lite0``). Off when the full network's weights are loaded after.
        frozen_blocks: keep the encoder's stem and its first ``frozen_blocks`` MBConv blocks
            fixed at their ImageNet values (weights and batch-norm statistics). Frozen
            features regularise training on small fixation data sets (as in DeepGaze II) and
            skip their backward pass, which matters on CPU. 0 trains the whole encoder.
    """

    def __init__(
        self,
        decoder_channels: int = 64,
        prior_maps: int = 8,
        pretrained: bool = True,
        frozen_blocks: int = 11,
    ) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # Constructor arguments that rebuild this architecture (stored with exported weights).
        self.config = {
            "decoder_channels": decoder_channels,
            "prior_maps": prior_maps,
            "frozen_blocks": frozen_blocks,
        }
        # image_size=None: "same" padding computed per input, so any input size works.
        encoder = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        if pretrained:
            from perceptual_codec.core.assets import load_asset_state_dict

            encoder.load_state_dict(load_asset_state_dict("efficientnet-lite0"))
        # Keep the stem and the blocks the decoder uses; the classifier head is not needed.
        self.stem = nn.Sequential(encoder._conv_stem, encoder._bn0, encoder._swish)
        self.blocks = nn.ModuleList(encoder._blocks[: _TAPS[-1] + 1])
        if not 0 <= frozen_blocks <= len(self.blocks):
            raise ValueError(f"frozen_blocks must be in [0, {len(self.blocks)}], got {frozen_blocks}")
        self.frozen_blocks = frozen_blocks
        for module in self._frozen_modules():
            for p in module.parameters():
                p.requires_grad_(False)

        c = decoder_channels
        self.lateral = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in _TAP_CHANNELS)
        self.smooth = nn.ModuleList(_conv_bn_relu(c, c) for _ in _TAP_CHANNELS[:-1])
        self.prior = CenterPrior(prior_maps)
        self.head = nn.Sequential(
            _conv_bn_relu(c + prior_maps, c),
            nn.Conv2d(c, c, 5, padding=4, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, 1, 1),
        )

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_blocks == 0:
            return []
        return [self.stem, *self.blocks[: self.frozen_blocks]]

    def train(self, mode: bool = True) -> SaliencyNet:
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()  # frozen layers keep their ImageNet batch-norm statistics
        return self

    def _drop_rate(self, idx: int) -> float:
        # Stochastic depth at Lite0's rate (0.2, scaled by depth); inactive in eval mode.
        return 0.2 * idx / len(self.blocks)

    def encode_frozen(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run the frozen part of the encoder: ``[decoder taps reached..., activation]``.

        Its output depends only on the input (no trainable weights, eval-mode batch norm),
        so a trainer may cache it per image; :meth:`decode_from_frozen` does the rest.
        """
        x = (x - _MEAN) / _STD
        if self.frozen_blocks == 0:
            return [x]
        for module in self._frozen_modules():
            if module.training:  # a trainer may have switched everything to train mode
                module.eval()
        taps = []
        with torch.no_grad():
            x = self.stem(x)
            for idx in range(self.frozen_blocks):
                x = self.blocks[idx](x, drop_connect_rate=self._drop_rate(idx))
                if idx in _TAPS:
                    taps.append(x)
        return [*taps, x]

    def decode_from_frozen(self, state: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """The trainable rest of the network: frozen-encoder state -> (N,1,*size) logits."""
        *taps, x = state
        taps = list(taps)
        if self.frozen_blocks == 0:
            x = self.stem(x)
        for idx in range(self.frozen_blocks, len(self.blocks)):
            x = self.blocks[idx](x, drop_connect_rate=self._drop_rate(idx))
            if idx in _TAPS:
                taps.append(x)
        y = self.lateral[-1](taps[-1])
        for lateral, smooth, tap in zip(
            reversed(self.lateral[:-1]), reversed(self.smooth), reversed(taps[:-1]), strict=True
        ):
            y = F.interpolate(y, size=tap.shape[-2:], mode="bilinear", align_corners=False)
            y = smooth(y + lateral(tap))
        prior = self.prior(*y.shape[-2:]).expand(y.shape[0], -1, -1, -1).to(y.dtype)
        logits = self.head(torch.cat([y, prior], dim=1))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_from_frozen(self.encode_frozen(x), tuple(x.shape[-2:]))


def to_probability(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over all pixels of each (N,1,H,W) map, so each map sums to one."""
    n = logits.shape[0]
    return logits.reshape(n, -1).float().softmax(dim=1).reshape(logits.shape)


def working_size(height: int, width: int, area: int = 192 * 256, multiple: int = 32) -> tuple[int, int]:
    """The size the network sees for an image of (height, width): about ``area`` pixels,
    the image's aspect ratio, each side a multiple of ``multiple`` (the encoder's stride)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    scale = math.sqrt(area / (height * width))
    h = max(multiple, round(height * scale / multiple) * multiple)
    w = max(multiple, round(width * scale / multiple) * multiple)
    return int(h), int(w)
