"""Codec adapters: each writes a real file of its format that round-trips, and its rate is
the file's size."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.codecs import get_codec, list_codecs, parse_codec_spec
from benchmarks.codecs.base import CodecAdapter
from perceptual_codec.core.errors import BitstreamError, UserFacingError


def natural_image(h: int = 80, w: int = 112) -> np.ndarray:
    """A crop of scikit-image's astronaut photo (bundled, no download)."""
    skdata = pytest.importorskip("skimage.data")
    path = Path(skdata.__file__).parent / "astronaut.png"
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(a[40:40 + h, 150:150 + w])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


PILLOW_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "jpeg2000": "JPEG2000",
                  "jpegxl": "JXL"}


def _codec_or_skip(name: str) -> CodecAdapter:
    codec = get_codec(name)
    ok, why = codec.available()
    if not ok:
        pytest.skip(f"{name}: {why}")
    return codec


@pytest.mark.parametrize("name", ["jpeg", "webp", "avif", "jpeg2000", "jpegxl", "hevc"])
def test_standard_codec_writes_a_real_file_that_round_trips(name: str, tmp_path: Path) -> None:
    codec = _codec_or_skip(name)
    image = natural_image()
    q_lo, q_hi = min(codec.qualities), max(codec.qualities)
    if not codec.higher_is_better:  # QP, compression ratio
        q_lo, q_hi = q_hi, q_lo
    lo, hi = codec.roundtrip(image, q_lo), codec.roundtrip(image, q_hi)
    for r in (lo, hi):
        assert r.decoded.shape == image.shape and r.decoded.dtype == np.uint8
        assert r.bpp() == pytest.approx(8 * len(r.data) / (image.shape[0] * image.shape[1]))
        # write the file and read it back with the format's own reader
        path = tmp_path / f"{name}{codec.extension}"
        path.write_bytes(r.data)
        assert path.stat().st_size == r.num_bytes
        if name in PILLOW_FORMATS:
            if name == "jpegxl":
                import pillow_jxl  # noqa: F401
            with Image.open(path) as im:
                assert im.format == PILLOW_FORMATS[name]
                assert im.size == (image.shape[1], image.shape[0])
                np.testing.assert_array_equal(np.asarray(im.convert("RGB")), r.decoded)
        else:
            probe = shutil.which("ffprobe")
            if probe:
                out = subprocess.run([probe, "-v", "error", "-show_entries",
                                      "stream=codec_name,width,height,pix_fmt", "-of", "csv=p=0",
                                      str(path)], capture_output=True, text=True, check=True)
                assert out.stdout.strip() == f"hevc,{image.shape[1]},{image.shape[0]},yuv444p"
        # decoding is deterministic
        np.testing.assert_array_equal(codec.decode(r.data), r.decoded)
    assert hi.num_bytes > lo.num_bytes
    assert psnr(image, hi.decoded) > psnr(image, lo.decoded) > 12.0  # 0.1 bpp on a tiny crop
    assert psnr(image, hi.decoded) > 33.0


def test_hevc_near_lossless_colour_conversion_is_accurate() -> None:
    codec = _codec_or_skip("hevc")
    image = natural_image()
    r = codec.roundtrip(image, 2)
    assert psnr(image, r.decoded) > 45.0  # full-range 4:4:4, no 4:2:0 or limited-range loss


def test_odd_sizes_round_trip() -> None:
    image = natural_image(37, 53)
    for name in ("jpeg", "webp", "avif", "jpeg2000", "jpegxl", "hevc"):
        codec = get_codec(name)
        if not codec.available()[0]:
            continue
        r = codec.roundtrip(image, codec.qualities[len(codec.qualities) // 2])
        assert r.decoded.shape == image.shape, name


def test_registry_and_specs() -> None:
    names = list_codecs()
    for n in ("jpeg", "webp", "avif", "jpeg2000", "jpegxl", "hevc", "pcodec", "sandwich-jpeg",
              "sandwich-avif", "compressai-ckpt"):
        assert n in names
    codec = parse_codec_spec("jpeg:qualities=10,20:label=myjpeg")
    assert codec.qualities == (10, 20) and codec.label == "myjpeg"
    assert parse_codec_spec("jpeg").config_id() != parse_codec_spec("webp").config_id()
    with pytest.raises(UserFacingError, match="unknown codec"):
        get_codec("nope")
    with pytest.raises(UserFacingError, match="KEY=VALUE"):
        parse_codec_spec("jpeg:oops")
    with pytest.raises(UserFacingError, match="bad option"):
        parse_codec_spec("jpeg:bogus=1")


def test_unavailable_codecs_say_why(tmp_path: Path) -> None:
    hevc = get_codec("hevc", ffmpeg=str(tmp_path / "no-such-ffmpeg"))
    ok, why = hevc.available()
    assert not ok and "not on PATH" in why
    with pytest.raises(UserFacingError, match="not on PATH"):
        hevc.encode(natural_image(), 30)
    ck = get_codec("compressai-ckpt", arch="bmshj2018-hyperprior", ckpt=str(tmp_path / "x.pth"))
    ok, why = ck.available()
    assert not ok and "not found" in why


@pytest.mark.parametrize("spec", ["pcodec:model=sal-mshp", "sandwich-jpeg", "sandwich-avif"])
def test_project_codecs_round_trip_when_their_weights_exist(spec: str, tmp_path: Path) -> None:
    codec = parse_codec_spec(spec)
    ok, why = codec.available()
    if not ok:
        assert why  # never silently unavailable
        pytest.skip(why)
    image = natural_image(64, 96)
    r = codec.roundtrip(image, codec.qualities[-1])
    path = tmp_path / f"x{codec.extension}"
    path.write_bytes(r.data)
    assert r.bpp() == pytest.approx(8 * path.stat().st_size / (64 * 96))
    np.testing.assert_array_equal(codec.decode(path.read_bytes()), r.decoded)
    # the adapter is a pass-through: the bytes are exactly what the public API writes and
    # reads (the image quality itself is the codec's own tests' business)
    from perceptual_codec import api

    np.testing.assert_array_equal(api.decompress(r.data), r.decoded)
    assert r.data == codec.encode(image, codec.qualities[-1])  # deterministic encoder


def test_project_codec_saliency_option() -> None:
    codec = parse_codec_spec("pcodec:model=sal-mshp:saliency=classic")
    assert codec.label == "pcodec-sal-mshp-sal-classic"
    assert codec.options == {"model": "sal-mshp", "saliency": "classic"}
    # the default keeps the options (and so the cache keys) of runs made without the option
    assert parse_codec_spec("pcodec:model=sal-mshp").options == {"model": "sal-mshp"}
    assert parse_codec_spec("pcodec:model=sal-mshp:saliency=classic").config_id() != \
        parse_codec_spec("pcodec:model=sal-mshp").config_id()
    with pytest.raises(UserFacingError, match="saliency must be"):
        parse_codec_spec("pcodec:saliency=fixations")
    with pytest.raises(UserFacingError, match="takes no saliency"):
        parse_codec_spec("sandwich-jpeg:saliency=none")


def test_project_codec_names_unknown_models() -> None:
    ok, why = parse_codec_spec("pcodec:model=no-such-model").available()
    assert not ok and "no-such-model" in why


def _random_compressai_checkpoint(path: Path, seed: int) -> None:
    import torch
    from compressai.zoo.image import model_architectures

    torch.manual_seed(seed)
    net = model_architectures["bmshj2018-hyperprior"](N=8, M=12)
    net.update(force=True)
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, path)


def test_compressai_checkpoint_codec_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("compressai")
    paths = [tmp_path / "a.pth.tar", tmp_path / "b.pth.tar"]
    for i, p in enumerate(paths):
        _random_compressai_checkpoint(p, seed=i)
    codec = parse_codec_spec(f"compressai-ckpt:arch=bmshj2018-hyperprior:ckpt={paths[0]},{paths[1]}")
    assert codec.available() == (True, "")
    assert codec.qualities == (1, 2)
    image = natural_image(70, 90)  # not a multiple of 64: exercises padding and cropping
    r = codec.roundtrip(image, 2)
    assert r.decoded.shape == image.shape
    assert r.data[:4] == b"CAIB" and r.data[5] == 2
    # decoding is reproducible, and a fresh adapter (as in a worker process) decodes the file
    fresh = get_codec("compressai-ckpt", arch="bmshj2018-hyperprior",
                      ckpt=[str(p) for p in paths])
    np.testing.assert_array_equal(fresh.decode(r.data), r.decoded)
    # the bytes are the real rANS strings: same as CompressAI's own compress()
    import torch

    net = fresh.net(2)
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255).unsqueeze(0)
    x = torch.nn.functional.pad(x, (0, 38, 0, 58), mode="replicate")
    with torch.no_grad():
        strings = net.compress(x)["strings"]
    payload = [s[0] for s in strings]
    assert r.data.endswith(payload[-1]) and payload[0] in r.data
    assert len(r.data) == sum(map(len, payload)) + 34  # 34 bytes of container, nothing else
    # corrupt and foreign files fail clearly
    with pytest.raises(BitstreamError, match="magic"):
        codec.decode(b"JUNK" + r.data[4:])
    with pytest.raises(BitstreamError, match="truncated"):
        codec.decode(r.data[:-3])
    tampered = bytearray(r.data)
    tampered[5] = 1  # claims checkpoint 1, whose weights tag differs
    with pytest.raises(BitstreamError, match="different weights"):
        codec.decode(bytes(tampered))


def test_compressai_checkpoint_rejects_bad_files(tmp_path: Path) -> None:
    pytest.importorskip("compressai")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    codec = get_codec("compressai-ckpt", arch="bmshj2018-hyperprior", ckpt=str(bad))
    with pytest.raises(UserFacingError, match="cannot load"):
        codec.encode(natural_image(), 1)
    with pytest.raises(UserFacingError, match="unknown architecture"):
        get_codec("compressai-ckpt", arch="nope", ckpt=str(bad)).net(1)


def test_avif_subsampling_and_speed_options():
    image = natural_image()
    plain, light = parse_codec_spec("avif"), parse_codec_spec("avif:subsampling=420:speed=8")
    if not plain.available()[0]:
        pytest.skip(plain.available()[1])
    assert light.settings()["subsampling"] == "4:2:0" and light.settings()["speed"] == 8
    assert plain.options == {}  # defaults keep the cache identity of earlier runs
    assert light.config_id() != plain.config_id()
    small, full = light.encode(image, 50), plain.encode(image, 50)
    assert len(small) < len(full)  # half-resolution chroma costs fewer bits
    assert light.decode(small).shape == image.shape
    with pytest.raises(UserFacingError, match="subsampling"):
        parse_codec_spec("avif:subsampling=411")
    with pytest.raises(UserFacingError, match="speed"):
        parse_codec_spec("avif:speed=11")
