"""The project's own codecs (hyperprior models and sandwich models) through the public API,
so the benchmark measures exactly the files ``pcodec compress`` writes."""

from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.codecs.base import CodecAdapter
from perceptual_codec.core.errors import UserFacingError


def _api() -> Any:
    return importlib.import_module("perceptual_codec.api")


@functools.lru_cache(maxsize=32)
def _file_sha(path: str, size: int, mtime_ns: int) -> str:
    """sha256 prefix of a weights file (cached while its size and mtime stay the same)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _zoo_rows() -> dict[str, dict]:
    """``pcodec models`` rows of the codec zoos (learned and sandwich), by name."""
    from perceptual_codec import zoo

    return {r["name"]: r for r in zoo.list_models()}


class ProjectCodec(CodecAdapter):
    """``perceptual_codec.api.compress(image, model=..., quality=...)``; the file is the
    project's container (header, CRC and all). The quality is the model's level (1..5).
    ``saliency=auto|classic|none`` picks the encoder's map (``--saliency``; default auto), to
    measure what the conditioning map changes."""

    name = "pcodec"
    extension = ".pcc"
    qualities = (1, 2, 3, 4, 5)
    default_model: str | None = None

    def __init__(self, qualities: Any = None, label: str | None = None,
                 model: str | None = None, saliency: str | None = None) -> None:
        auto_label = label is None
        if label is None and model is not None and model != self.default_model:
            label = model if self.default_model else f"{self.name}-{model}"
        if saliency is not None:
            if self.default_model is not None:
                raise UserFacingError(f"{self.name} takes no saliency option")
            if saliency not in ("auto", "classic", "none"):
                raise UserFacingError(f"{self.name}: saliency must be auto, classic or none, "
                                      f"not {saliency!r}")
            if auto_label and saliency != "auto":
                label = f"{label or self.name}-sal-{saliency}"
        model = model or self.default_model
        super().__init__(qualities, label)
        self.model, self.saliency = model, saliency
        self.options = {"model": model}
        if saliency is not None:  # only when given, so existing cache keys stay valid
            self.options["saliency"] = saliency

    def available(self) -> tuple[bool, str]:
        try:
            api = _api()
        except Exception as exc:  # noqa: BLE001 - any import failure means "not usable here"
            return False, f"perceptual_codec.api is not importable ({type(exc).__name__}: {exc})"
        for fn in ("compress", "decompress"):
            if not callable(getattr(api, fn, None)):
                return False, f"perceptual_codec.api has no {fn}()"
        if self.model is not None and not Path(self.model).suffix:
            try:
                rows = _zoo_rows()
            except Exception as exc:  # noqa: BLE001
                return False, f"the codec zoo cannot be listed ({type(exc).__name__}: {exc})"
            if self.model not in rows:
                return False, f"unknown model {self.model!r} (known: {', '.join(rows)})"
            if not rows[self.model].get("available", True):
                return False, (f"model {self.model!r} has no weights installed yet "
                               "(see `pcodec models`)")
        return True, ""

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model}
        if self.saliency is not None:
            out["saliency"] = self.saliency
        try:  # the weights' identity, so retrained models are never mixed with cached results
            out["weights"] = self._weights_id()
        except Exception:  # noqa: BLE001 - unavailable models have no id
            out["weights"] = None
        return out

    def _weights_id(self) -> str | None:
        from perceptual_codec import zoo

        if self.model is None:
            return None
        if Path(self.model).suffix:
            path = Path(self.model)
        elif self.model in zoo.MODELS:
            path = zoo.weights_path(self.model)
        else:
            from perceptual_codec.sandwich import zoo as szoo

            path = szoo.weights_path(self.model)
        if not path.is_file():
            return None
        st = path.stat()
        return _file_sha(str(path), st.st_size, st.st_mtime_ns)

    def version(self) -> str:
        import perceptual_codec

        return f"perceptual-codec {perceptual_codec.__version__}"

    def encode(self, image: np.ndarray, quality: Any) -> bytes:
        self.require()
        kwargs: dict[str, Any] = {"quality": quality}
        if self.model is not None:
            kwargs["model"] = self.model
        if self.saliency is not None:
            kwargs["saliency"] = self.saliency
        return bytes(_api().compress(image, **kwargs))

    def decode(self, data: bytes) -> np.ndarray:
        out = _api().decompress(data)
        return np.asarray(out, dtype=np.uint8)


class SandwichJPEGCodec(ProjectCodec):
    """Neural pre/post-processors around real libjpeg: the file is a standard JPEG."""

    name = "sandwich-jpeg"
    extension = ".jpg"
    default_model = "sandwich-jpeg"


class SandwichAVIFCodec(ProjectCodec):
    """Neural pre/post-processors around AVIF: the file is a standard AVIF."""

    name = "sandwich-avif"
    extension = ".avif"
    default_model = "sandwich-avif"
