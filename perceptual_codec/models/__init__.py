"""Codec architectures (CompressAI ``CompressionModel`` subclasses) and their registry."""

from .hyperprior import SaliencyMeanScaleHyperprior
from .registry import ARCHITECTURES, build_model, register_model

__all__ = ["ARCHITECTURES", "SaliencyMeanScaleHyperprior", "build_model", "register_model"]
