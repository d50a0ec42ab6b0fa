"""The ``.pcc`` bitstream container (format version 1).

Layout (all integers big-endian)::

    magic        4 bytes  b"PCC\\x89"
    version      u8       1
    header_len   u16      length of the header fields that follow (excluding CRCs)
    header       model name (u8 length + UTF-8, at most 64 bytes), weights digest (8 bytes),
                 quality (u8), height (u32), width (u32), pad bottom (u16), pad right (u16),
                 colour (u8: 0 = sRGB 8-bit RGB, 1 = greyscale source), saliency source (u8,
                 informational; the decoder never needs the map), latent height/width (u16 x2),
                 section count (u8, at most 8), section lengths (u32 each)
    header_crc   u32      CRC32 of magic..header
    payload      the sections back to back (CompressAI rANS strings: y, then z)
    payload_crc  u32      CRC32 of the payload

Parsing checks every field against hard limits *before* allocating anything, so a corrupt,
truncated or foreign file is rejected with :class:`BitstreamError` and never reaches the
entropy decoder; sizes are bounded (at most ``MAX_PIXELS`` pixels, ``MAX_SECTION_BYTES``
per section) so no file can ask for a huge allocation.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from perceptual_codec.core.errors import BitstreamError

MAGIC = b"PCC\x89"
VERSION = 1
MAX_NAME_BYTES = 64
MAX_SECTIONS = 8
MAX_PIXELS = 64_000_000
MAX_SIDE = 65_535
MAX_SECTION_BYTES = 256 * 1024 * 1024

COLOURS = {0: "rgb", 1: "grey"}
SALIENCY_SOURCES = {0: "none", 1: "classic", 2: "learned", 3: "mask", 4: "array"}

_PREFIX = struct.Struct(">4sBH")
_FIXED = struct.Struct(">8sBIIHHBBHHB")


@dataclass
class Header:
    """Everything the decoder needs besides the entropy-coded sections."""

    model: str
    weights_digest: bytes
    quality: int
    height: int
    width: int
    pad_bottom: int
    pad_right: int
    latent_height: int
    latent_width: int
    colour: str = "rgb"
    saliency: str = "none"
    section_lengths: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "format_version": VERSION,
            "model": self.model,
            "weights_digest": self.weights_digest.hex(),
            "quality": self.quality,
            "height": self.height,
            "width": self.width,
            "padding": {"bottom": self.pad_bottom, "right": self.pad_right},
            "latent_size": [self.latent_height, self.latent_width],
            "colour": self.colour,
            "saliency": self.saliency,
            "section_lengths": list(self.section_lengths),
        }


def _code(table: dict[int, str], value: str, what: str) -> int:
    for k, v in table.items():
        if v == value:
            return k
    raise ValueError(f"unknown {what} {value!r}")


def pack(header: Header, sections: list[bytes]) -> bytes:
    """Serialise a header and its sections into one file's bytes."""
    name = header.model.encode("utf-8")
    if not 0 < len(name) <= MAX_NAME_BYTES:
        raise ValueError(f"model name must be 1..{MAX_NAME_BYTES} bytes")
    if len(header.weights_digest) != 8:
        raise ValueError("weights digest must be 8 bytes")
    if not 0 < len(sections) <= MAX_SECTIONS:
        raise ValueError(f"need 1..{MAX_SECTIONS} sections")
    if any(len(s) > MAX_SECTION_BYTES for s in sections):
        raise ValueError("section too large")
    if not (0 < header.height <= MAX_SIDE and 0 < header.width <= MAX_SIDE):
        raise ValueError("image size out of range")
    fields = bytes([len(name)]) + name + _FIXED.pack(
        header.weights_digest,
        header.quality,
        header.height,
        header.width,
        header.pad_bottom,
        header.pad_right,
        _code(COLOURS, header.colour, "colour"),
        _code(SALIENCY_SOURCES, header.saliency, "saliency source"),
        header.latent_height,
        header.latent_width,
        len(sections),
    ) + b"".join(struct.pack(">I", len(s)) for s in sections)
    head = _PREFIX.pack(MAGIC, VERSION, len(fields)) + fields
    payload = b"".join(sections)
    return (
        head
        + struct.pack(">I", zlib.crc32(head))
        + payload
        + struct.pack(">I", zlib.crc32(payload))
    )


def looks_like_container(data: bytes) -> bool:
    """Cheap sniff: does ``data`` start with this format's magic bytes?"""
    return bytes(data[:4]) == MAGIC


def parse_header(data: bytes) -> tuple[Header, int]:
    """Validate and decode the header; returns it and the payload's offset.

    Raises :class:`BitstreamError` naming the problem.
    """
    data = memoryview(data)
    if len(data) < _PREFIX.size:
        raise BitstreamError(f"file too short to be a .pcc file ({len(data)} bytes)")
    magic, version, header_len = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise BitstreamError("not a perceptual-codec (.pcc) file: wrong magic bytes")
    if version != VERSION:
        raise BitstreamError(
            f"unsupported .pcc format version {version} (this build reads version {VERSION})"
        )
    end = _PREFIX.size + header_len
    max_header = 1 + MAX_NAME_BYTES + _FIXED.size + 4 * MAX_SECTIONS
    if header_len > max_header:
        raise BitstreamError(f"corrupt header: length {header_len} exceeds {max_header}")
    if len(data) < end + 4:
        raise BitstreamError("truncated file: header incomplete")
    (header_crc,) = struct.unpack_from(">I", data, end)
    if zlib.crc32(data[:end]) != header_crc:
        raise BitstreamError("corrupt file: header checksum mismatch")
    pos = _PREFIX.size
    name_len = data[pos]
    pos += 1
    if not 0 < name_len <= MAX_NAME_BYTES or pos + name_len + _FIXED.size > end:
        raise BitstreamError("corrupt header: bad model-name length")
    try:
        name = bytes(data[pos : pos + name_len]).decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError("corrupt header: model name is not UTF-8") from None
    pos += name_len
    (digest, quality, height, width, pad_b, pad_r, colour, sal, lh, lw, n_sec) = (
        _FIXED.unpack_from(data, pos)
    )
    pos += _FIXED.size
    if not 0 < n_sec <= MAX_SECTIONS or pos + 4 * n_sec != end:
        raise BitstreamError("corrupt header: bad section table")
    lengths = list(struct.unpack_from(f">{n_sec}I", data, pos))
    if colour not in COLOURS or sal not in SALIENCY_SOURCES:
        raise BitstreamError("corrupt header: unknown colour or saliency code")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE) or height * width > MAX_PIXELS:
        raise BitstreamError(f"image size {width}x{height} is out of range")
    if max(lengths) > MAX_SECTION_BYTES:
        raise BitstreamError("corrupt header: section length out of range")
    payload_start = end + 4
    expected = payload_start + sum(lengths) + 4
    if len(data) < expected:
        raise BitstreamError(
            f"truncated file: expected {expected} bytes, got {len(data)}"
        )
    if len(data) > expected:
        raise BitstreamError(f"corrupt file: {len(data) - expected} unexpected trailing bytes")
    header = Header(
        model=name,
        weights_digest=bytes(digest),
        quality=quality,
        height=height,
        width=width,
        pad_bottom=pad_b,
        pad_right=pad_r,
        latent_height=lh,
        latent_width=lw,
        colour=COLOURS[colour],
        saliency=SALIENCY_SOURCES[sal],
        section_lengths=lengths,
    )
    return header, payload_start


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """Validate the whole file (header, sizes, both CRCs) and split out the sections."""
    header, pos = parse_header(data)
    view = memoryview(data)
    payload = view[pos : pos + sum(header.section_lengths)]
    (payload_crc,) = struct.unpack_from(">I", view, pos + len(payload))
    if zlib.crc32(payload) != payload_crc:
        raise BitstreamError("corrupt file: payload checksum mismatch")
    sections, off = [], 0
    for n in header.section_lengths:
        sections.append(bytes(payload[off : off + n]))
        off += n
    return header, sections
