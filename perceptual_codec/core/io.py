"""Image loading and PNG saving under one documented policy.

Every model in the project sees images the same way, so this module decides once how any
file Pillow can read becomes an RGB float image:

* **Output.** :func:`load_image` gives a ``float32`` tensor ``(3, H, W)`` in ``[0, 1]``;
  :func:`load_image_array` gives a ``uint8`` array ``(H, W, 3)``.
* **Orientation.** The EXIF orientation tag is applied (``ImageOps.exif_transpose``), so the
  pixels are upright as a photo viewer shows them; ``H`` and ``W`` are those of the upright image.
* **Bit depth.** 8-bit samples are divided by 255 and 16-bit samples by 65535. 16-bit data
  keeps its full precision on the float path: Pillow reduces 16-bit *colour* PNG/TIFF to 8 bits,
  so those files are decoded with OpenCV instead (their EXIF orientation is taken from the
  header, i.e. an ``eXIf`` chunk before the image data). Pillow's 32-bit integer mode ``I`` is read as
  16-bit data (it is what Pillow uses for 16-bit grayscale in several formats) and clipped to
  ``[0, 65535]``; float mode ``F`` is taken as already in ``[0, 1]`` and clipped (NaN -> 0).
* **Grayscale** (modes ``1``, ``L``, ``I;16``, ``I``, ``F``) is replicated to three channels.
* **Palette** images are expanded; palette transparency becomes an alpha channel.
* **Alpha** (``LA``, ``RGBA``, ``PA``, transparent ``P``) is composited in float over
  ``background`` (default white): ``out = alpha * colour + (1 - alpha) * background``.
* **CMYK, YCbCr, LAB, HSV** are converted to RGB by Pillow.
* **ICC profiles are ignored**: stored values are used as if they were sRGB, with no colour
  management, so a wide-gamut or profiled-CMYK file can look a little different than in a
  colour-managed viewer.
* **Multi-frame files** (GIF, APNG, multi-page TIFF): the first frame only.
* **Safety.** The pixel count is checked from the header *before* any decoding (default limit
  64 megapixels, ``max_pixels=None`` turns it off); Pillow's own decompression-bomb error is
  turned into the same message. Truncated or corrupt files raise instead of returning a
  partially decoded image (``ImageFile.LOAD_TRUNCATED_IMAGES`` is held ``False`` while we
  decode, and a PNG must reach its ``IEND`` chunk). Every problem with the input raises :class:`~perceptual_codec.core.errors.ImageReadError`.

Inputs may be a path (``str`` / ``os.PathLike``), the encoded file as ``bytes``, or a binary
file object (read from its current position; the caller keeps ownership).

:func:`save_png` writes atomically through :mod:`perceptual_codec.core.atomic`: 8-bit (or
16-bit grayscale) with Pillow, 16-bit colour with OpenCV, since Pillow cannot write it.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .atomic import atomic_open
from .errors import ImageReadError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageSource",
    "image_size",
    "load_image",
    "load_image_array",
    "save_png",
    "to_tensor",
    "to_uint8",
]

DEFAULT_MAX_PIXELS = 64_000_000

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
Background = float | Sequence[float]

# Exceptions Pillow's decoders raise for damaged data (besides UnidentifiedImageError).
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, IndexError, struct.error, zlib.error)

# Guards the rare moments we change a Pillow global (see _pillow_global).
_PIL_LOCK = threading.RLock()

_ORIENTATION_TAG = 0x0112


@contextlib.contextmanager
def _pillow_global(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Hold a Pillow module setting at ``value``; touches the global only when it differs.

    Pillow has no per-image switch for these, so the global is changed under a lock and put
    back at once. It only changes when other code set it differently (e.g. a library that
    enabled ``LOAD_TRUNCATED_IMAGES``); such code running in another thread at that moment
    may briefly see our value.
    """
    if getattr(owner, name) == value:
        yield
        return
    with _PIL_LOCK:
        old = getattr(owner, name)
        setattr(owner, name, value)
        try:
            yield
        finally:
            setattr(owner, name, old)


def _describe(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<image bytes>"
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) else "<image file object>"


@contextlib.contextmanager
def _binary_stream(source: ImageSource, name: str) -> Iterator[IO[bytes]]:
    """A seekable binary stream for ``source``, with the input errors people hit first."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            hint = " (a broken symbolic link)" if path.is_symlink() else ""
            raise ImageReadError(f"{name}: no such file{hint}")
        if path.is_dir():
            raise ImageReadError(f"{name} is a directory, not an image file")
        try:
            fp = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ImageReadError(f"cannot open {name}: {exc.strerror or exc}") from exc
        with fp:
            if os.fstat(fp.fileno()).st_size == 0:
                raise ImageReadError(f"{name} is empty (0 bytes), not an image")
            yield fp
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageReadError("the image data is empty (0 bytes)")
        yield io.BytesIO(bytes(source))
        return
    if not hasattr(source, "read"):
        raise TypeError(
            f"expected a path, bytes or a binary file object, got {type(source).__name__}"
        )
    seekable = getattr(source, "seekable", None)
    stream = source if callable(seekable) and seekable() else io.BytesIO(source.read())
    start = stream.tell()
    stream.seek(0, io.SEEK_END)
    empty = stream.tell() == start
    stream.seek(start)
    if empty:
        raise ImageReadError(f"{name} is empty (0 bytes), not an image")
    # Pillow seeks to 0 itself, so a stream positioned mid-file is copied from where it stands.
    yield io.BytesIO(stream.read()) if start else stream


def _sniff_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a raw PNG/GIF/BMP/JPEG/PNM header, for files Pillow refuses.

    Pillow will not open a zero-size image at all, so this is how such a file gets an
    accurate message instead of "not an image".
    """
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head.startswith(b"BM"):
            width, height = struct.unpack("<ii", head[18:26])
            return width, abs(height)
        if head.startswith(b"\xff\xd8"):
            pos = 2
            while pos + 9 <= len(head) and head[pos] == 0xFF:
                marker = head[pos + 1]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
                    return width, height
                pos += 2 + struct.unpack(">H", head[pos + 2 : pos + 4])[0]
            return None
        if len(head) > 2 and head[0:1] == b"P" and head[1:2] in b"123456":
            tokens: list[bytes] = []
            for line in head[2:].splitlines():
                tokens += line.split(b"#", 1)[0].split()
                if len(tokens) >= 2:
                    return int(tokens[0]), int(tokens[1])
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _png_complete(stream: IO[bytes]) -> bool:
    """Whether a PNG's chunk chain reaches IEND (cheap: seeks over chunk bodies)."""
    stream.seek(8)
    while True:
        head = stream.read(8)
        if len(head) < 8:
            return False
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            return True
        stream.seek(length + 4, io.SEEK_CUR)


def _open_header(stream: IO[bytes], name: str) -> Image.Image:
    """Parse the header only; Pillow's bomb check is bypassed so our own limit decides."""
    start = stream.tell()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                return Image.open(stream)
            except Image.DecompressionBombError:
                stream.seek(start)
                with _pillow_global(Image, "MAX_IMAGE_PIXELS", None):
                    return Image.open(stream)
    except UnidentifiedImageError:
        stream.seek(start)
        size = _sniff_size(stream.read(1 << 16))
        if size is not None and 0 in size:
            raise ImageReadError(f"{name} has zero size ({size[0]}x{size[1]} pixels)") from None
        raise ImageReadError(
            f"{name} is not an image file Pillow can read (unknown format or damaged header)"
        ) from None
    except _DECODE_ERRORS as exc:
        raise ImageReadError(f"{name} has a damaged image header: {exc}") from exc


def _check_size(im: Image.Image, name: str, max_pixels: int | None) -> None:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{name} has zero size ({width}x{height} pixels)")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(
            f"{name} is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the "
            f"limit of {max_pixels / 1e6:.1f} megapixels (max_pixels={max_pixels}). The limit "
            "guards against decompression bombs; if you trust this file, raise it "
            f"(max_pixels={width * height} or more, or --max-pixels on the command line) "
            "or pass max_pixels=None to turn it off."
        )


def _validate_max_pixels(max_pixels: int | None) -> int | None:
    if max_pixels is None:
        return None
    if isinstance(max_pixels, bool) or int(max_pixels) != max_pixels or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    return int(max_pixels)


def _header_orientation(im: Image.Image) -> int:
    """EXIF orientation (1..8) from what the header already holds; never decodes pixels."""
    try:
        if im.format == "PNG":
            # PngImageFile.getexif() decodes the whole image when eXIf is not in the header.
            data = im.info.get("exif")
            if not data:
                return 1
            exif = Image.Exif()
            exif.load(data)
        else:
            exif = im.getexif()
        value = int(exif.get(_ORIENTATION_TAG, 1))
    except (*_DECODE_ERRORS, TypeError, KeyError):
        return 1
    return value if 1 <= value <= 8 else 1


def _orient_array(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an ``(H, W, C)`` array, as ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(a, k=-1)
    if orientation == 7:
        return a.transpose(1, 0, 2)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(a, k=1)
    return a


def _tile_rawmode(im: Image.Image) -> str:
    if not im.tile:
        return ""
    args = im.tile[0][3]
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _decode_high_bit_colour(im: Image.Image, stream: IO[bytes], name: str) -> np.ndarray | None:
    """16-bit colour PNG/TIFF at full precision via OpenCV (Pillow has no 16-bit RGB mode)."""
    if im.mode not in ("RGB", "RGBA", "LA") or ";16" not in _tile_rawmode(im):
        return None
    try:
        import cv2
    except ImportError:
        warnings.warn(
            "OpenCV is not installed; a 16-bit colour image is reduced to 8 bits by Pillow",
            stacklevel=3,
        )
        return None
    stream.seek(0)
    buf = np.frombuffer(stream.read(), dtype=np.uint8)
    a = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if a is None or a.dtype != np.uint16 or a.shape[:2] != (im.height, im.width):
        if im.format == "PNG":  # libpng refused it: damaged, not merely unusual
            raise ImageReadError(f"{name} is corrupt: its 16-bit image data cannot be decoded")
        warnings.warn(
            f"{name}: OpenCV cannot decode this 16-bit file; Pillow reduces it to 8 bits",
            stacklevel=3,
        )
        return None
    if a.ndim == 2:
        a = a[..., None]
    elif a.shape[2] >= 3:
        a = a[..., [2, 1, 0, *range(3, a.shape[2])]]  # BGR(A) -> RGB(A)
    return np.ascontiguousarray(_orient_array(a, _header_orientation(im)))


def _has_transparency(im: Image.Image) -> bool:
    has = getattr(im, "has_transparency_data", None)  # Pillow >= 10.1
    if has is not None:
        return bool(has)
    return "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")


def _pillow_array(im: Image.Image, name: str) -> np.ndarray:
    """The decoded image as an ``(H, W, C)`` array, C in 1..4, of uint8, uint16 or float32."""
    try:
        with _pillow_global(ImageFile, "LOAD_TRUNCATED_IMAGES", False):
            im.load()
    except _DECODE_ERRORS as exc:
        raise ImageReadError(
            f"{name} is truncated or corrupt: the image data ends early or is damaged ({exc}). "
            "Re-download or re-export the file."
        ) from exc
    try:
        oriented = ImageOps.exif_transpose(im, in_place=True)
    except (*_DECODE_ERRORS, TypeError, KeyError) as exc:
        warnings.warn(f"{name}: ignoring unreadable EXIF orientation ({exc})", stacklevel=3)
        oriented = None
    if oriented is not None:
        im = oriented

    mode = im.mode
    if mode == "1":
        im, mode = im.convert("L"), "L"
    if mode == "L":
        return np.asarray(im)[..., None]
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)[..., None]  # native byte order
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)[..., None]
    if mode == "F":
        f = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(f, 0.0, 1.0)[..., None]
    if mode == "LA":
        return np.asarray(im)
    if mode == "RGB":
        return np.asarray(im)
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and _has_transparency(im)):
        return np.asarray(im.convert("RGBA"))
    try:
        return np.asarray(im.convert("RGB"))
    except ValueError as exc:
        raise ImageReadError(f"{name} has an unsupported image mode {mode!r}: {exc}") from exc


def _decode(source: ImageSource, max_pixels: int | None) -> np.ndarray:
    name = _describe(source)
    max_pixels = _validate_max_pixels(max_pixels)
    with _binary_stream(source, name) as stream:
        im = _open_header(stream, name)
        with im:
            _check_size(im, name, max_pixels)
            if im.format == "PNG" and not _png_complete(stream):
                # Pillow stops once it has the pixels, so a cut-off tail would pass unnoticed.
                raise ImageReadError(
                    f"{name} is truncated or corrupt: the PNG ends before its IEND chunk. "
                    "Re-download or re-export the file."
                )
            high = _decode_high_bit_colour(im, stream, name)
            return high if high is not None else _pillow_array(im, name)


def _background(background: Background) -> np.ndarray:
    bg = np.broadcast_to(np.asarray(background, dtype=np.float32).reshape(-1), (3,))
    if not np.all((bg >= 0.0) & (bg <= 1.0)):
        raise ValueError(f"background must be one or three values in [0, 1], got {background!r}")
    return bg.reshape(3, 1, 1)


def _to_float_chw(a: np.ndarray, background: Background) -> np.ndarray:
    """``(H, W, C)`` native array -> composited RGB ``float32`` ``(3, H, W)`` in [0, 1]."""
    bg = _background(background)
    chw = np.ascontiguousarray(a.transpose(2, 0, 1))  # move channels while still small ints
    x = chw.astype(np.float32)  # always a fresh, writable array
    if chw.dtype == np.uint8:
        x /= np.float32(255.0)
    elif chw.dtype == np.uint16:
        x /= np.float32(65535.0)
    has_alpha = x.shape[0] in (2, 4)
    colour, alpha = (x[:-1], x[-1:]) if has_alpha else (x, None)
    if colour.shape[0] == 1:
        colour = np.repeat(colour, 3, axis=0)
    if alpha is not None:
        colour = colour * alpha + bg * (np.float32(1.0) - alpha)
    return np.ascontiguousarray(colour, dtype=np.float32)


def load_image(
    path: ImageSource,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    background: Background = (1.0, 1.0, 1.0),
) -> torch.Tensor:
    """Load an image as an RGB ``float32`` tensor ``(3, H, W)`` in ``[0, 1]``.

    See the module docstring for the policy (orientation, bit depth, alpha over
    ``background``). Raises :class:`ImageReadError` for a missing, empty, non-image,
    truncated or over-``max_pixels`` input.
    """
    return torch.from_numpy(_to_float_chw(_decode(path, max_pixels), background))


def load_image_array(
    path: ImageSource,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    background: Background = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """Load an image as an RGB ``uint8`` array ``(H, W, 3)``, same policy as :func:`load_image`.

    8-bit RGB and grayscale files come back with their exact stored values; anything else
    (alpha, 16-bit, float) goes through the float path and is rounded.
    """
    a = _decode(path, max_pixels)
    if a.dtype == np.uint8 and a.shape[2] == 3:
        return a if a.flags.writeable else a.copy()  # Pillow's buffers are read-only
    if a.dtype == np.uint8 and a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    return _float_chw_to_uint8(_to_float_chw(a, background))


def _float_chw_to_uint8(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0)
    q = np.rint(np.clip(x, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    return np.ascontiguousarray(q.transpose(1, 2, 0))


def _as_chw_tensor(image: torch.Tensor) -> torch.Tensor:
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 2:
        image = image.unsqueeze(0)
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"expected an image tensor (C, H, W) or (1, C, H, W) with C in 1, 3, 4; "
            f"got shape {tuple(image.shape)}"
        )
    return image.detach().cpu()


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """Tensor ``(C, H, W)`` in [0, 1] -> ``uint8`` array ``(H, W, C)`` (``(H, W)`` for C = 1).

    Values are clamped to [0, 1] and rounded to the nearest level (NaN -> 0), so
    ``to_uint8(to_tensor(a))`` gives back ``a`` exactly. A ``(1, C, H, W)`` batch is accepted.
    """
    t = _as_chw_tensor(image)
    if t.dtype == torch.uint8:
        q = t
    else:
        t = torch.nan_to_num(t.to(torch.float32), nan=0.0, posinf=1.0, neginf=0.0)
        q = t.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    q = q.permute(1, 2, 0).contiguous().numpy()
    return q[..., 0] if q.shape[2] == 1 else q


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """``uint8``/``uint16`` array ``(H, W, C)`` or ``(H, W)`` -> ``float32`` ``(C, H, W)`` in [0, 1].

    The inverse of :func:`to_uint8`; grayscale stays one channel (``(1, H, W)``).
    """
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected an array (H, W) or (H, W, C), got shape {a.shape}")
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(a.dtype)
    if scale is None:
        raise ValueError(f"expected a uint8 or uint16 array, got {a.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32))
    return t.div_(scale)


def _png_levels(image: torch.Tensor | np.ndarray, bits: int) -> np.ndarray:
    """Any accepted image -> ``(H, W, C)`` array of uint8 (bits=8) or uint16 (bits=16)."""
    peak = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    if isinstance(image, torch.Tensor):
        t = _as_chw_tensor(image)
        if t.dtype == torch.uint8:
            a = t.permute(1, 2, 0).numpy()
        elif t.is_floating_point():
            # Same float32 arithmetic as to_uint8, so both quantise identically.
            t = torch.nan_to_num(t.to(torch.float32), nan=0.0, posinf=1.0, neginf=0.0)
            q = t.clamp_(0.0, 1.0).mul_(float(peak)).round_().numpy().astype(dtype)
            return q.transpose(1, 2, 0)
        else:
            raise ValueError(f"expected a float or uint8 image tensor, got {t.dtype}")
    else:
        a = np.asarray(image)
        if a.ndim == 2:
            a = a[..., None]
        if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
            raise ValueError(
                f"expected an array (H, W) or (H, W, C) with C in 1, 3, 4; got shape {a.shape}"
            )
        if a.dtype.kind == "f":
            x = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
            return np.rint(np.clip(x, 0.0, 1.0, out=x) * np.float32(peak)).astype(dtype)
        if a.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"expected a uint8, uint16 or float array, got {a.dtype}")
    if a.dtype == dtype:
        return a
    if a.dtype == np.uint8:  # 8 -> 16 bits: exact (v * 257 maps 255 to 65535)
        return a.astype(np.uint16) * np.uint16(257)
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # 16 -> 8, rounded


def save_png(
    image: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    overwrite: bool = True,
    *,
    bits: int = 8,
    compress_level: int = 6,
) -> None:
    """Write ``image`` as a PNG at ``path``, atomically (never a partial file).

    ``image`` is a float tensor ``(C, H, W)`` / ``(1, C, H, W)`` in [0, 1] (clamped, rounded),
    a ``uint8`` tensor, or an array ``(H, W)`` / ``(H, W, C)`` of uint8, uint16 or float in
    [0, 1]; C is 1 (gray), 3 (RGB) or 4 (RGBA). ``bits=16`` writes 16 bits per sample.
    ``overwrite=False`` refuses an existing ``path`` (:class:`OutputExistsError`). To protect
    an input file, call :func:`perceptual_codec.core.atomic.check_not_same_file` first.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    a = _png_levels(image, bits)
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"cannot save an empty image of shape {a.shape}")
    if bits == 16 and a.shape[2] > 1:
        import cv2  # Pillow cannot write 16-bit colour PNG

        bgr = np.ascontiguousarray(a[..., [2, 1, 0, *range(3, a.shape[2])]])
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
        if not ok:
            raise OSError(f"OpenCV failed to encode a 16-bit PNG for {path}")
        with atomic_open(path, "wb", overwrite=overwrite) as f:
            f.write(buf.tobytes())
        return
    if a.shape[2] == 1:
        pil = Image.fromarray(np.ascontiguousarray(a[..., 0]))  # L or I;16
    else:
        pil = Image.fromarray(np.ascontiguousarray(a))
    with atomic_open(path, "wb", overwrite=overwrite) as f:
        pil.save(f, format="PNG", compress_level=compress_level)


def image_size(path: ImageSource, oriented: bool = True) -> tuple[int, int]:
    """``(width, height)`` from the header alone, without decoding pixels.

    With ``oriented=True`` (default) the size is that of the upright image, i.e. what
    :func:`load_image` returns as ``(W, H)`` after the EXIF orientation is applied.
    """
    name = _describe(path)
    with _binary_stream(path, name) as stream:
        im = _open_header(stream, name)
        with im:
            _check_size(im, name, None)
            width, height = im.size
            if oriented and _header_orientation(im) in (5, 6, 7, 8):
                width, height = height, width
            return width, height
