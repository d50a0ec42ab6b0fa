"""The sandwich's mark inside a standard file: one short text line naming the post-processor.

JPEG files carry it in a COM (comment) segment, AVIF files in the EXIF ImageDescription tag,
so every viewer still opens the file (and shows the neural code image) while ``pcodec
decompress`` finds which post-processor, weights and quality level to apply. The line costs
~80 bytes in a JPEG and ~180 in an AVIF (XMP would cost ~500), e.g.::

    pcodec-sandwich/1 m=sandwich-jpeg l=3 q=20 w=9b9524bd180e s=768x512 c=rgb

(model, 1-based ladder level, codec quality, weights sha256 prefix, original size, carrier).
A file whose comment/description lacks the ``pcodec-sandwich/`` prefix is a plain file.
"""

from __future__ import annotations

import io
import re

from perceptual_codec.core.errors import BitstreamError

PREFIX = "pcodec-sandwich/"
MARK_VERSION = 1
_MAX_MARK = 1024
_EXIF_DESCRIPTION = 270
_KEYS = {"m": "model", "l": "level", "q": "quality", "w": "weights", "s": "size", "c": "carrier"}
_NAME = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def sniff_format(data: bytes) -> str:
    """"jpeg" or "avif" from the magic bytes; BitstreamError for anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BitstreamError(f"expected file bytes, got {type(data).__name__}")
    head = bytes(data[:32])
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis", b"mif1"):
        return "avif"
    if not head:
        raise BitstreamError("empty file: not a JPEG or AVIF sandwich file")
    raise BitstreamError(
        "not a JPEG or AVIF file (unknown magic bytes "
        f"{head[:8].hex(' ')}); sandwich files are standard .jpg or .avif files"
    )


def build_mark(fields: dict) -> bytes:
    """The mark line for ``fields`` (model, level, quality, weights, width, height, carrier)."""
    for k in ("model", "carrier"):
        if not _NAME.match(str(fields[k])):
            raise ValueError(f"sandwich mark field {k}={fields[k]!r} has unsupported characters")
    return (
        f"{PREFIX}{MARK_VERSION} m={fields['model']} l={int(fields['level'])} "
        f"q={int(fields['quality'])} w={fields['weights']} "
        f"s={int(fields['width'])}x{int(fields['height'])} c={fields['carrier']}"
    ).encode("ascii")


def parse_mark(text: bytes | str | None, codec: str) -> dict | None:
    """The fields of a mark line, or None when ``text`` is not a sandwich mark."""
    if not text:
        return None
    if isinstance(text, bytes | bytearray):
        text = bytes(text[:_MAX_MARK]).decode("ascii", errors="replace")
    text = text.strip().rstrip("\x00")
    if not text.startswith(PREFIX):
        return None
    head, _, rest = text.partition(" ")
    version = head[len(PREFIX) :]
    if version != str(MARK_VERSION):
        raise BitstreamError(
            f"sandwich mark version {version!r} is not supported (this pcodec reads version "
            f"{MARK_VERSION}); upgrade pcodec"
        )
    raw = {}
    for item in rest.split():
        key, sep, value = item.partition("=")
        if not sep or key not in _KEYS:
            raise BitstreamError(f"the file's sandwich mark is malformed near {item!r}")
        raw[_KEYS[key]] = value
    missing = [v for v in _KEYS.values() if v not in raw]
    if missing:
        raise BitstreamError(f"the file's sandwich mark lacks fields {missing}")
    try:
        width, height = (int(v) for v in raw.pop("size").split("x"))
        level, quality = int(raw.pop("level")), int(raw.pop("quality"))
    except ValueError:
        raise BitstreamError("the file's sandwich mark has a non-integer size or level") from None
    if not (0 < width <= 65535 and 0 < height <= 65535):
        raise BitstreamError(f"sandwich mark has an invalid size {width}x{height}")
    return {**raw, "version": MARK_VERSION, "level": level, "quality": quality,
            "width": width, "height": height, "codec": codec}


def read_mark(data: bytes) -> tuple[str, dict | None, tuple[int, int]]:
    """(format, mark fields or None, (width, height) of the code image) of a JPEG/AVIF file."""
    from PIL import Image

    fmt = sniff_format(data)
    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            size = im.size
            if fmt == "jpeg":
                text = im.info.get("comment")
            else:
                text = im.getexif().get(_EXIF_DESCRIPTION)
    except Exception as exc:
        raise BitstreamError(f"cannot read this {fmt.upper()} file: {exc}") from exc
    return fmt, parse_mark(text, fmt), size


def exif_with_mark(mark: bytes) -> bytes:
    """EXIF block carrying ``mark`` as ImageDescription (for AVIF)."""
    from PIL import Image

    exif = Image.Exif()
    exif[_EXIF_DESCRIPTION] = mark.decode("ascii")
    return exif.tobytes()
