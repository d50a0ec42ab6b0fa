"""Codec proxies: a differentiable stand-in for training plus the real encoder/decoder."""

from perceptual_codec.sandwich.proxies.avif_proxy import AvifProxy
from perceptual_codec.sandwich.proxies.base import CodecProxy
from perceptual_codec.sandwich.proxies.jpeg_proxy import JpegProxy, ijg_quant_tables

PROXIES: dict[str, type[CodecProxy]] = {"jpeg": JpegProxy, "avif": AvifProxy}



def build_proxy(config: dict) -> CodecProxy:
    """Rebuild a proxy from :meth:`CodecProxy.config` output."""
    cfg = dict(config)
    kind = cfg.pop("codec", None)
    if kind not in PROXIES:
        raise ValueError(f"unknown codec {kind!r}; known: {sorted(PROXIES)}")
    return PROXIES[kind](**cfg)


__all__ = ["PROXIES", "AvifProxy", "CodecProxy", "JpegProxy", "build_proxy", "ijg_quant_tables"]
