"""Corrupt, truncated and foreign inputs are rejected with BitstreamError (property tests)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import data as skdata

from perceptual_codec import api, container
from perceptual_codec.core.errors import BitstreamError
from perceptual_codec.models import SaliencyMeanScaleHyperprior

torch.manual_seed(0)
MODEL = SaliencyMeanScaleHyperprior(N=16, M=24, num_qualities=3).eval()
MODEL.update(force=True)
VALID = api.compress(skdata.astronaut()[:80, :100], model=MODEL, quality=2, saliency="classic")
REFERENCE = api.decompress(VALID, model=MODEL)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _rejects(data: bytes, check_info: bool = True) -> str:
    with pytest.raises(BitstreamError) as exc:
        api.decompress(data, model=MODEL)
    if check_info:  # info() reads the container only, so it sees container-level damage
        with pytest.raises(BitstreamError):
            api.info(data)
    return str(exc.value)


@SETTINGS
@given(st.data())
def test_any_byte_change_is_rejected(data):
    pos = data.draw(st.integers(0, len(VALID) - 1))
    delta = data.draw(st.integers(1, 255))
    bad = bytearray(VALID)
    bad[pos] ^= delta
    _rejects(bytes(bad))


@SETTINGS
@given(st.integers(0, len(VALID) - 1))
def test_truncation_is_rejected(n):
    _rejects(VALID[:n])


@SETTINGS
@given(st.binary(min_size=1, max_size=64))
def test_appended_bytes_are_rejected(extra):
    assert "trailing" in _rejects(VALID + extra)


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_are_rejected(blob):
    if blob.startswith(b"\xff\xd8\xff") or blob[4:12] in (b"ftypavif", b"ftypavis"):
        return  # would be handed to the sandwich decoder
    _rejects(blob)


@SETTINGS
@given(st.binary(max_size=512))
def test_random_bytes_after_magic_are_rejected(blob):
    _rejects(container.MAGIC + blob)


def _forge(**changes) -> bytes:
    """A file with valid CRCs but edited header fields (what a buggy writer might produce)."""
    header, sections = container.unpack(VALID)
    fields = {**header.__dict__, **changes}
    return container.pack(container.Header(**fields), sections)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"latent_height": 40}, "latent size"),
        ({"pad_bottom": 100}, "padding"),
        ({"quality": 7}, "quality"),
        ({"weights_digest": b"\x01" * 8}, "other weights"),
    ],
)
def test_forged_headers_rejected_before_decoding(changes, message):
    assert message in _rejects(_forge(**changes), check_info=False)


def test_oversized_image_rejected_without_allocation():
    assert "out of range" in _rejects(_forge_raw_size(65_000, 65_000))


def _forge_raw_size(h: int, w: int) -> bytes:
    """Patch the size fields directly (pack() refuses them) and fix up the header CRC."""
    header, _ = container.unpack(VALID)
    name_len = len(header.model.encode())
    off = container._PREFIX.size + 1 + name_len + 8 + 1
    bad = bytearray(VALID)
    bad[off : off + 8] = struct.pack(">II", h, w)
    end = container._PREFIX.size + struct.unpack_from(">H", VALID, 5)[0]
    bad[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(bad[:end])))
    return bytes(bad)


def test_inconsistent_payload_with_valid_crc_does_not_crash():
    """Garbage rANS strings behind valid CRCs decode to *something* (or raise) without
    crashing or hanging, and the result is deterministic."""
    header, sections = container.unpack(VALID)
    rng = np.random.default_rng(0)
    garbage = [rng.integers(0, 256, len(s), dtype=np.uint8).tobytes() for s in sections]
    forged = container.pack(header, garbage)
    try:
        a = api.decompress(forged, model=MODEL)
    except BitstreamError:
        return
    np.testing.assert_array_equal(a, api.decompress(forged, model=MODEL))
    assert a.shape == REFERENCE.shape


def test_foreign_files_have_clear_messages(tmp_path):
    from perceptual_codec.core.io import save_png

    save_png(skdata.camera()[:16, :16], tmp_path / "x.png")
    assert "wrong magic" in _rejects((tmp_path / "x.png").read_bytes())
    assert "too short" in _rejects(b"PC")
    bad_version = bytearray(VALID)
    bad_version[4] = 99
    assert "version 99" in _rejects(bytes(bad_version))


def test_wrong_section_count_rejected():
    header, sections = container.unpack(VALID)
    assert "2 sections" in _rejects(container.pack(header, [*sections, b"x"]), check_info=False)
