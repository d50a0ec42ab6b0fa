"""Image I/O policy: every Pillow mode to RGB float, orientation, alpha, bit depth, errors, PNG."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile, ImageOps

from perceptual_codec.core import io as pio
from perceptual_codec.core.atomic import OutputExistsError
from perceptual_codec.core.errors import ImageReadError, UserFacingError
from perceptual_codec.core.io import (
    image_size,
    load_image,
    load_image_array,
    save_png,
    to_tensor,
    to_uint8,
)

RNG = np.random.default_rng(0)


def _rgb(h: int = 12, w: int = 17) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(im: Image.Image, path: Path, **kw: object) -> Path:
    im.save(path, **kw)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def _check_rgb(t: torch.Tensor, h: int, w: int) -> None:
    assert isinstance(t, torch.Tensor)
    assert t.dtype == torch.float32
    assert tuple(t.shape) == (3, h, w)
    assert t.is_contiguous()
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


# ---------------------------------------------------------------- modes and values


def test_rgb_png_exact(tmp_path: Path) -> None:
    a = _rgb()
    p = _save(Image.fromarray(a), tmp_path / "rgb.png")
    t = load_image(p)
    _check_rgb(t, 12, 17)
    assert torch.equal(t, torch.from_numpy(a).permute(2, 0, 1).float() / 255)
    assert np.array_equal(load_image_array(str(p)), a)
    assert np.array_equal(to_uint8(t), a)


def test_grayscale_l_replicated(tmp_path: Path) -> None:
    g = RNG.integers(0, 256, (9, 8), dtype=np.uint8)
    p = _save(Image.fromarray(g), tmp_path / "l.png")
    t = load_image(p)
    _check_rgb(t, 9, 8)
    for c in range(3):
        assert torch.equal(t[c], torch.from_numpy(g).float() / 255)
    assert np.array_equal(load_image_array(p), np.repeat(g[..., None], 3, axis=2))


def test_one_bit(tmp_path: Path) -> None:
    bits = RNG.integers(0, 2, (7, 10)).astype(bool)
    p = _save(Image.fromarray(bits).convert("1"), tmp_path / "bw.png")
    assert Image.open(p).mode == "1"
    t = load_image(p)
    _check_rgb(t, 7, 10)
    assert set(torch.unique(t).tolist()) <= {0.0, 1.0}
    assert torch.equal(t[0] == 1.0, torch.from_numpy(bits))


def test_gray16_keeps_precision(tmp_path: Path) -> None:
    g = np.array([[0, 1, 2, 255, 256, 257], [1000, 32767, 32768, 65533, 65534, 65535]], np.uint16)
    p = _save(Image.fromarray(g), tmp_path / "g16.png")
    assert Image.open(p).mode.startswith("I;16")
    t = load_image(p)
    _check_rgb(t, 2, 6)
    expected = torch.from_numpy(g.astype(np.float32) / 65535)
    assert torch.equal(t[1], expected)
    # neighbouring 16-bit levels stay distinct: no 8-bit truncation on the float path
    assert len(torch.unique(t[0])) == g.size
    assert np.array_equal(load_image_array(p)[..., 0], np.rint(g / 65535 * 255).astype(np.uint8))


@pytest.mark.parametrize("channels", [3, 4])
def test_colour16_keeps_precision(tmp_path: Path, channels: int) -> None:
    a = RNG.integers(0, 65536, (5, 6, channels), dtype=np.uint16)
    a[0, 0, :3] = [1, 2, 3]  # levels 8-bit truncation would merge
    if channels == 4:
        a[..., 3] = 65535  # opaque, so the colour comes through unchanged
    p = tmp_path / "c16.png"
    save_png(a, p, bits=16)
    with Image.open(p) as im:  # a real 16-bit PNG: Pillow itself only sees 8 bits of it
        assert im.mode == ("RGB" if channels == 3 else "RGBA")
        assert ";16" in im.tile[0][3]
    t = load_image(p)
    _check_rgb(t, 5, 6)
    expected = torch.from_numpy(a[..., :3].astype(np.float32) / 65535).permute(2, 0, 1)
    assert torch.allclose(t, expected, atol=1e-7, rtol=0)
    assert len({float(t[0, 0, 0]), float(t[1, 0, 0]), float(t[2, 0, 0])}) == 3


def test_int32_mode_read_as_16bit(tmp_path: Path) -> None:
    i = np.array([[0, 30000, 65535, 70000, -5]], np.int32)
    p = _save(Image.fromarray(i, mode="I"), tmp_path / "i.tif")
    assert Image.open(p).mode == "I"
    t = load_image(p)
    _check_rgb(t, 1, 5)
    assert torch.allclose(t[0, 0], torch.tensor([0.0, 30000 / 65535, 1.0, 1.0, 0.0]))


def test_float_mode_clipped(tmp_path: Path) -> None:
    f = np.array([[0.0, 0.25, 1.0, 1.5, -0.5, np.nan]], np.float32)
    p = _save(Image.fromarray(f, mode="F"), tmp_path / "f.tif")
    t = load_image(p)
    _check_rgb(t, 1, 6)
    assert torch.equal(t[2, 0], torch.tensor([0.0, 0.25, 1.0, 1.0, 0.0, 0.0]))


def test_palette_without_and_with_transparency(tmp_path: Path) -> None:
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    pal = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    im = Image.fromarray(idx, mode="P")
    im.putpalette(pal)
    plain = _save(im, tmp_path / "p.png")
    t = load_image(plain)
    _check_rgb(t, 2, 3)
    assert t[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert t[:, 0, 2].tolist() == [0.0, 0.0, 1.0]

    clear = _save(im, tmp_path / "pt.png", transparency=1)  # index 1 (green) is transparent
    assert Image.open(clear).mode == "P"
    white = load_image(clear)
    assert white[:, 0, 1].tolist() == [1.0, 1.0, 1.0]  # default background
    assert white[:, 0, 0].tolist() == [1.0, 0.0, 0.0]  # opaque entries untouched
    grey = load_image(clear, background=(0.5, 0.25, 0.0))
    assert grey[:, 1, 1].tolist() == [0.5, 0.25, 0.0]
    # GIF stores palette images too
    gif = _save(im, tmp_path / "p.gif", transparency=1)
    assert load_image(gif)[:, 0, 1].tolist() == [1.0, 1.0, 1.0]


def test_la_alpha_composited(tmp_path: Path) -> None:
    la = np.zeros((1, 3, 2), np.uint8)
    la[..., 0] = 100
    la[0, :, 1] = [0, 128, 255]
    p = _save(Image.fromarray(la, mode="LA"), tmp_path / "la.png")
    t = load_image(p)
    _check_rgb(t, 1, 3)
    a = torch.tensor([0.0, 128 / 255, 1.0])
    expected = a * (100 / 255) + (1 - a) * 1.0
    for c in range(3):
        assert torch.allclose(t[c, 0], expected, atol=1e-6)
    black = load_image(p, background=0.0)
    assert torch.allclose(black[0, 0], a * (100 / 255), atol=1e-6)


def test_rgba_alpha_composited(tmp_path: Path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = [200, 50, 10]
    rgba[..., 3] = [[255, 0], [64, 192]]
    p = _save(Image.fromarray(rgba, mode="RGBA"), tmp_path / "rgba.png")
    bg = (0.2, 0.4, 0.6)
    t = load_image(p, background=bg)
    _check_rgb(t, 2, 2)
    alpha = torch.from_numpy(rgba[..., 3].astype(np.float32) / 255)
    for c in range(3):
        colour = rgba[0, 0, c] / 255
        assert torch.allclose(t[c], alpha * colour + (1 - alpha) * bg[c], atol=1e-6)
    assert t[:, 0, 1].tolist() == pytest.approx(list(bg))  # fully transparent -> background
    u8 = load_image_array(p, background=bg)
    assert u8.dtype == np.uint8 and u8.shape == (2, 2, 3)
    assert np.array_equal(u8, to_uint8(t))


def test_background_validated(tmp_path: Path) -> None:
    p = _save(Image.new("RGBA", (2, 2)), tmp_path / "a.png")
    with pytest.raises(ValueError, match="background"):
        load_image(p, background=(255, 255, 255))


def test_cmyk_converted_by_pillow(tmp_path: Path) -> None:
    cmyk = Image.fromarray(RNG.integers(0, 256, (6, 5, 4), dtype=np.uint8), mode="CMYK")
    for name in ("c.jpg", "c.tif"):
        p = _save(cmyk, tmp_path / name)
        with Image.open(p) as im:
            assert im.mode == "CMYK"
            expected = np.asarray(im.convert("RGB"))
        assert np.array_equal(load_image_array(p), expected)
        _check_rgb(load_image(p), 6, 5)


def test_jpeg_loads_and_ycbcr(tmp_path: Path) -> None:
    a = _rgb(16, 24)
    p = _save(Image.fromarray(a), tmp_path / "x.jpg", quality=95)
    t = load_image(p)
    _check_rgb(t, 16, 24)
    with Image.open(p) as im:
        assert np.array_equal(load_image_array(p), np.asarray(im.convert("RGB")))
    ycc = Image.fromarray(a).convert("YCbCr")
    q = _save(ycc, tmp_path / "y.tif")
    assert Image.open(q).mode == "YCbCr"
    _check_rgb(load_image(q), 16, 24)


# ---------------------------------------------------------------- orientation


def _marked(h: int = 20, w: int = 40) -> np.ndarray:
    a = np.full((h, w, 3), 128, np.uint8)
    a[:4, :4] = [255, 0, 0]  # red block top-left
    return a


def test_exif_orientation_6_jpeg(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored pixels must be rotated 90 degrees clockwise for display
    p = _save(Image.fromarray(_marked()), tmp_path / "o6.jpg", exif=exif, quality=95)
    t = load_image(p)
    _check_rgb(t, 40, 20)  # width and height swapped
    assert image_size(p) == (20, 40)
    assert image_size(p, oriented=False) == (40, 20)
    u8 = load_image_array(p).astype(int)
    assert u8[1, -2, 0] > 200 and u8[1, -2, 1] < 60  # red is now top-right
    assert u8[1, 1, 0] < 160  # and no longer top-left
    with Image.open(p) as im:
        assert np.array_equal(load_image_array(p), np.asarray(ImageOps.exif_transpose(im)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_array_matches_pillow(orientation: int) -> None:
    a = RNG.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(im))
    assert np.array_equal(pio._orient_array(a, orientation), expected)


def test_exif_orientation_on_16bit_colour_png(tmp_path: Path) -> None:
    a = RNG.integers(0, 65536, (3, 5, 3), dtype=np.uint16)
    buf = io.BytesIO()
    save_png(a, tmp_path / "c16.png", bits=16)
    data = (tmp_path / "c16.png").read_bytes()
    exif = Image.Exif()
    exif[0x0112] = 8
    ihdr_end = 8 + 8 + 13 + 4
    data = data[:ihdr_end] + _png_chunk(b"eXIf", exif.tobytes()) + data[ihdr_end:]
    buf.write(data)
    t = load_image(buf.getvalue())
    _check_rgb(t, 5, 3)
    expected = np.rot90(a, k=1).astype(np.float32) / 65535
    assert torch.allclose(t, torch.from_numpy(expected.copy()).permute(2, 0, 1), atol=1e-7)
    assert image_size(data) == (3, 5)


# ---------------------------------------------------------------- input kinds


def test_accepts_path_str_bytes_and_file_objects(tmp_path: Path) -> None:
    a = _rgb(4, 6)
    p = _save(Image.fromarray(a), tmp_path / "s.png")
    data = p.read_bytes()
    for src in (p, str(p), data, bytearray(data), io.BytesIO(data)):
        assert np.array_equal(load_image_array(src), a)
    with open(p, "rb") as f:
        assert np.array_equal(load_image_array(f), a)
        assert not f.closed  # the caller's file stays the caller's
    shifted = io.BytesIO(b"junk" + data)
    shifted.seek(4)
    assert np.array_equal(load_image_array(shifted), a)
    with pytest.raises(TypeError, match="path, bytes or a binary file"):
        load_image(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageReadError, match="no such file") as info:
        load_image(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, UserFacingError)
    with pytest.raises(ImageReadError, match="no such file"):
        image_size(missing)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="is a directory"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty \(0 bytes\)"):
        load_image(p)
    with pytest.raises(ImageReadError, match="empty"):
        load_image(b"")


def test_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "notes.png"
    p.write_text("this is a text file, not a picture\n")
    with pytest.raises(ImageReadError, match="not an image file") as info:
        load_image(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("lenient_global", [False, True])
def test_truncated_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, lenient_global: bool
) -> None:
    p = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(p, fmt)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    # Even when some other library switched Pillow to lenient mode, we must not return
    # a half-grey partial decode.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient_global)
    with pytest.raises(ImageReadError, match="truncated or corrupt") as info:
        load_image(p)
    assert str(p) in str(info.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is lenient_global  # restored afterwards


@pytest.mark.parametrize(("fmt", "cut"), [("PNG", 12), ("PNG", 20), ("JPEG", 2)])
def test_truncated_tail(tmp_path: Path, fmt: str, cut: int) -> None:
    """Losing only the end (PNG IEND, JPEG EOI) is still a truncated file, not a good one."""
    buf = io.BytesIO()
    Image.fromarray(_rgb(16, 16)).save(buf, fmt)
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(buf.getvalue()[:-cut])


def test_truncated_16bit_colour_png(tmp_path: Path) -> None:
    p = tmp_path / "c16.png"
    save_png(RNG.integers(0, 65536, (32, 32, 3), dtype=np.uint16), p, bits=16)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(p)


def test_corrupt_16bit_colour_png(tmp_path: Path) -> None:
    p = tmp_path / "c16.png"
    save_png(RNG.integers(0, 65536, (32, 32, 3), dtype=np.uint16), p, bits=16)
    data = bytearray(p.read_bytes())
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 60] = bytes(50)  # same length, damaged deflate stream and CRC
    with pytest.raises(ImageReadError, match="corrupt"):
        load_image(bytes(data))


def test_over_pixel_limit_checked_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _save(Image.fromarray(_rgb(10, 20)), tmp_path / "big.png")
    decoded: list[object] = []
    real_load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        decoded.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    with pytest.raises(ImageReadError) as info:
        load_image(p, max_pixels=199)
    msg = str(info.value)
    assert "20x10" in msg and "max_pixels=199" in msg and "raise it" in msg
    assert decoded == []  # refused from the header alone
    assert load_image(p, max_pixels=200).shape == (3, 10, 20)
    assert load_image(p, max_pixels=None).shape == (3, 10, 20)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(p, max_pixels=0)


def test_default_limit_and_pillow_bomb_error_become_our_error() -> None:
    huge = _png_header_only(20_000, 20_000)  # 400 MP: over Pillow's own bomb limit too
    with pytest.raises(ImageReadError, match=r"20000x20000 = 400\.0 megapixels") as info:
        load_image(huge)
    assert "64.0 megapixels" in str(info.value)
    assert image_size(huge) == (20_000, 20_000)  # header read only, no decode


def test_our_limit_decides_not_pillows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _save(Image.fromarray(_rgb(10, 10)), tmp_path / "s.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # Pillow would call this a bomb
    assert load_image(p, max_pixels=1000).shape == (3, 10, 10)
    assert Image.MAX_IMAGE_PIXELS == 20
    with pytest.raises(ImageReadError, match="over the limit"):
        load_image(p, max_pixels=50)


def test_zero_size() -> None:
    with pytest.raises(ImageReadError, match=r"zero size \(0x10 pixels\)"):
        load_image(_png_header_only(0, 10))
    with pytest.raises(ImageReadError, match="zero size"):
        load_image(b"P6\n7 0\n255\n")


# ---------------------------------------------------------------- tensor helpers


def test_to_uint8_rounds_and_clamps() -> None:
    t = torch.tensor([[[0.0, 0.5 / 255 - 1e-4, 0.5 / 255 + 1e-4, 1.0, 1.7, -0.3, float("nan")]]])
    t = t.expand(3, -1, -1)
    q = to_uint8(t)
    assert q.dtype == np.uint8 and q.shape == (1, 7, 3)
    assert q[0, :, 0].tolist() == [0, 0, 1, 255, 255, 0, 0]
    assert to_uint8(t[:1]).shape == (1, 7)  # one channel -> (H, W)
    assert to_uint8(t.unsqueeze(0)).shape == (1, 7, 3)  # batch of one
    with pytest.raises(ValueError, match="image tensor"):
        to_uint8(torch.zeros(2, 3, 4, 4))


def test_to_tensor_inverse_of_to_uint8() -> None:
    a = _rgb(5, 4)
    t = to_tensor(a)
    assert t.dtype == torch.float32 and tuple(t.shape) == (3, 5, 4)
    assert np.array_equal(to_uint8(t), a)
    g = a[..., 0]
    assert tuple(to_tensor(g).shape) == (1, 5, 4)
    assert np.array_equal(to_uint8(to_tensor(g)), g)
    assert to_tensor(np.array([[65535]], np.uint16)).item() == 1.0
    with pytest.raises(ValueError, match="uint8 or uint16"):
        to_tensor(a.astype(np.int64))


# ---------------------------------------------------------------- save_png


def test_save_png_roundtrip_uint8_and_tensor(tmp_path: Path) -> None:
    a = _rgb()
    save_png(a, tmp_path / "a.png")
    assert np.array_equal(load_image_array(tmp_path / "a.png"), a)
    save_png(to_tensor(a), tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    g = a[..., 1]
    save_png(g, tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "L" and np.array_equal(np.asarray(im), g)
    rgba = np.dstack([a, np.full(a.shape[:2], 7, np.uint8)])
    save_png(rgba, tmp_path / "rgba.png")
    with Image.open(tmp_path / "rgba.png") as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im), rgba)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "g.png", "rgba.png", "t.png"]


def test_save_png_float_inputs_quantise_like_to_uint8(tmp_path: Path) -> None:
    x = torch.rand(3, 9, 11, generator=torch.Generator().manual_seed(2)) * 1.2 - 0.1
    save_png(x.unsqueeze(0), tmp_path / "t.png")
    save_png(x.permute(1, 2, 0).numpy(), tmp_path / "n.png")
    expected = to_uint8(x)
    assert np.array_equal(load_image_array(tmp_path / "t.png"), expected)
    assert np.array_equal(load_image_array(tmp_path / "n.png"), expected)


def test_save_png_16bit_float(tmp_path: Path) -> None:
    x = torch.rand(3, 6, 7, generator=torch.Generator().manual_seed(1))
    save_png(x, tmp_path / "x16.png", bits=16)
    back = load_image(tmp_path / "x16.png")
    assert torch.allclose(back, x, atol=0.5 / 65535 + 1e-7, rtol=0)
    assert not torch.allclose(back, to_tensor(to_uint8(x)), atol=1e-5)  # finer than 8 bits
    save_png(x[:1], tmp_path / "g16.png", bits=16)
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I;16")
    save_png(np.array([[0, 255]], np.uint8), tmp_path / "u16.png", bits=16)
    assert np.asarray(Image.open(tmp_path / "u16.png")).tolist() == [[0, 65535]]
    with pytest.raises(ValueError, match="bits"):
        save_png(x, tmp_path / "bad.png", bits=12)


def test_save_png_overwrite_refusal_keeps_original(tmp_path: Path) -> None:
    p = tmp_path / "out.png"
    save_png(_rgb(), p)
    before = p.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists"):
        save_png(_rgb(), p, overwrite=False)
    assert p.read_bytes() == before
    save_png(np.zeros((2, 2, 3), np.uint8), p)  # overwrite=True by default
    assert p.read_bytes() != before


def test_save_png_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "out.png"
    p.write_bytes(b"old")

    def broken_save(self: Image.Image, fp: object, *args: object, **kw: object) -> None:
        fp.write(b"\x89PNG partial")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_png(_rgb(), p)
    assert p.read_bytes() == b"old"
    assert [q.name for q in tmp_path.iterdir()] == ["out.png"]


def test_save_png_rejects_bad_shapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_png(np.zeros((4, 4, 2), np.uint8), tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        save_png(np.zeros((0, 4, 3), np.uint8), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_image_size_reads_header_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _save(Image.fromarray(_rgb(10, 30)), tmp_path / "s.png")
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    assert image_size(p) == (30, 10)
