"""perceptual-codec: learned image compression that looks good to people and keeps
working for machines.

This module stays light on purpose (no torch import at module level) so that
``twoafc`` and ``saliency`` can import ``perceptual_codec.core`` without a cycle and
``pcodec --help`` starts fast. Heavy pieces live in submodules.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
