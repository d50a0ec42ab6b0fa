"""Sandwich: proxies vs the real codec, bypass, files, errors (fast; generated/skimage images)."""

from __future__ import annotations

import functools
import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_codec.core.errors import BitstreamError, UserFacingError
from perceptual_codec.sandwich import api
from perceptual_codec.sandwich.calibrate import rate_samples
from perceptual_codec.sandwich.container import build_mark, parse_mark, read_mark
from perceptual_codec.sandwich.model import SandwichModel
from perceptual_codec.sandwich.proxies import AvifProxy, JpegProxy, ijg_quant_tables
from perceptual_codec.sandwich.proxies.base import uint8_to_tensor

skdata = pytest.importorskip("skimage.data")

# Measured on these crops at q 5/20/75 (MODEL_CARD.md): mean |proxy - libjpeg| 0.36-1.45 grey
# levels (4:2:0) and 0.40-0.91 (4:4:4), proxy-to-real PSNR 34.5-46.4 dB, and the proxy's own
# PSNR within 0.14 dB of the real decode's. Single pixels differ up to ~40 levels where a
# coefficient sits on a rounding boundary (libjpeg rounds YCbCr to integers and uses an
# integer DCT), hence tolerances on means, not maxima.
MEAN_ABS_TOL = 2.0
PSNR_TOL_DB = 32.0


@functools.lru_cache(maxsize=1)
def _crops() -> tuple[np.ndarray, ...]:
    return (
        skdata.astronaut()[100:228, 150:310],
        skdata.chelsea()[60:180, 120:280],
        skdata.coffee()[100:236, 200:352],
        skdata.rocket()[120:240, 200:360],
    )


def _plain_jpeg(a: np.ndarray, quality: int, **kw) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality, **kw)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


@pytest.mark.parametrize("quality", [1, 5, 10, 25, 50, 75, 90, 100])
def test_ijg_tables_match_libjpeg(quality):
    buf = io.BytesIO()
    Image.fromarray(skdata.astronaut()[:64, :64]).save(buf, "JPEG", quality=quality)
    q = Image.open(io.BytesIO(buf.getvalue())).quantization
    luma, chroma = ijg_quant_tables(quality)
    assert list(q[0]) == luma.flatten().tolist()
    assert list(q[1]) == chroma.flatten().tolist()


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
@pytest.mark.parametrize("quality", [5, 20, 75])
def test_proxy_matches_real_libjpeg(subsampling, quality):
    proxy = JpegProxy(subsampling=subsampling, real_forward=False).eval()
    for a in _crops():
        x_hat, _ = proxy.simulate(uint8_to_tensor(a)[None], quality)
        simulated = (x_hat[0].permute(1, 2, 0) * 255).round().byte().numpy()
        real = proxy.decode(proxy.encode(a, quality))
        assert np.abs(simulated.astype(int) - real).mean() < MEAN_ABS_TOL
        assert _psnr(simulated, real) > PSNR_TOL_DB
        # and the proxy's error budget is the real codec's, within 0.5 dB
        assert abs(_psnr(simulated, a) - _psnr(real, a)) < 0.3


def test_real_encoder_uses_the_proxy_tables():
    proxy = JpegProxy()
    a = _crops()[0]
    for q in (5, 40):
        data = proxy.encode(a, q)
        tables = Image.open(io.BytesIO(data)).quantization
        assert [list(tables[0]), list(tables[1])] == proxy.integer_tables(q)
        # same tables + same subsampling as Pillow's own quality setting: same decode
        assert np.array_equal(proxy.decode(data), _plain_jpeg(a, q))


def test_rate_estimate_tracks_real_sizes():
    proxy = JpegProxy(real_forward=False)
    crops = [*_crops()[:3], skdata.astronaut()[::4, ::4].copy(), skdata.coffee()[:64, :96].copy()]
    feats, bits = rate_samples(proxy, crops, [5, 15, 40, 75])
    est = feats @ proxy.rate_weights.numpy()
    r = np.corrcoef(est, bits)[0, 1]
    assert r > 0.97, r  # measured ~0.99 (weights fitted on BSDS500, tested here on skimage)
    assert np.median(np.abs(est / bits - 1)) < 0.25


@pytest.mark.parametrize("rounding", ["ste", "noise"])
def test_gradients_flow_through_proxy(rounding):
    proxy = JpegProxy(rounding=rounding, learn_step=True, real_forward=True).train()
    x = uint8_to_tensor(_crops()[1][:64, :64])[None].requires_grad_(True)
    x_hat, bits = proxy(x, 20)
    ((x_hat - 0.5).pow(2).mean() + 1e-4 * bits.sum()).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert proxy.log_step.grad is not None and proxy.log_step.grad.abs().sum() > 0


def test_processors_get_gradients_and_alpha_moves_first():
    model = SandwichModel(JpegProxy(qualities=(10, 50)), pre_channels=(4, 8), post_channels=(4, 8))
    x = uint8_to_tensor(_crops()[2][:48, :48])[None]
    out = model(x, 1)
    ((out["x_hat"] - x).pow(2).mean() + 1e-3 * out["bpp"].mean()).backward()
    assert model.pre.alpha.grad.abs() > 0 and model.post.alpha.grad.abs() > 0
    assert model.pre.per_pixel.weight.grad.abs().sum() > 0


def test_bypass_at_init_reproduces_plain_jpeg():
    model = SandwichModel(JpegProxy(qualities=(5, 20, 75)), pre_channels=(4, 8), post_channels=(4, 8))
    model.eval()
    cases = [(_crops()[0], 0, 5), (_crops()[0], 1, 20), (_crops()[0], 2, 75), (_crops()[1], 1, 20)]
    for a, level, q in cases:
        data = api.encode_with(model, level, a, "test-model", "0" * 64)
        mark = read_mark(data)[1]
        assert np.array_equal(api.decode_with(model, data, mark), _plain_jpeg(a, q))
        # the mark is cheap: a COM segment of under 100 bytes over the plain file
        assert 0 < len(data) - len(model.codec.encode(a, q)) < 100


def test_files_open_with_plain_pillow():
    a = _crops()[0]
    for proxy in (JpegProxy(qualities=(20,)), AvifProxy(qualities=(50,))):
        model = SandwichModel(proxy, pre_channels=(4, 8), post_channels=(4, 8)).eval()
        data = api.encode_with(model, 0, a, "test-model", "f" * 64)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.format == proxy.format_name.upper() and im.size == (a.shape[1], a.shape[0])
        assert api.is_sandwich_file(data)
        info = api.describe(data)
        assert info["model"] == "test-model" and info["width"] == a.shape[1]


def test_avif_proxy_interface_and_grey_and_downsample_variants():
    a = _crops()[3][:64, :96].copy()
    proxy = AvifProxy(qualities=(40, 70))
    x = uint8_to_tensor(a)[None]
    x_hat, bits = proxy.train()(x, 40)
    assert x_hat.shape == x.shape and bits.shape == (1,)
    assert _psnr(proxy.decode(proxy.encode(a, 70)), a) > _psnr(proxy.decode(proxy.encode(a, 40)), a)
    for kwargs in ({"carrier": "gray"}, {"downsample": 2}):
        model = SandwichModel(JpegProxy(qualities=(30,)), pre_channels=(4, 8), post_channels=(4, 8), **kwargs)
        out = model(x, 0)
        assert out["x_hat"].shape == x.shape
        data = api.encode_with(model.eval(), 0, a, "t", "0" * 64)
        with Image.open(io.BytesIO(data)) as im:
            expect = (48, 32) if kwargs.get("downsample") else (96, 64)
            assert im.size == expect and im.mode == ("L" if "carrier" in kwargs else "RGB")
        assert api.decode_with(model, data, read_mark(data)[1]).shape == a.shape


def test_unmarked_file_decodes_plain_with_notice():
    a = _crops()[1]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=30, comment=b"an ordinary camera comment")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = api.decompress_sandwich(buf.getvalue())
    assert any("no sandwich mark" in str(w.message) for w in caught)
    assert np.array_equal(out, _plain_jpeg(a, 30))
    assert not api.is_sandwich_file(buf.getvalue())


def test_bad_and_foreign_files_give_clear_errors():
    a = _crops()[0]
    model = SandwichModel(JpegProxy(qualities=(20,)), pre_channels=(4, 8), post_channels=(4, 8)).eval()
    good = api.encode_with(model, 0, a, "sandwich-jpeg", "0" * 64)
    png = io.BytesIO()
    Image.fromarray(a).save(png, "PNG")
    cases = {
        "empty": b"",
        "png": png.getvalue(),
        "random": bytes(range(256)) * 4,
        "truncated": good[: len(good) // 2],
        "header only": good[:20],
    }
    for name, data in cases.items():
        with pytest.raises(BitstreamError):
            api.decompress_sandwich(data)
        assert not api.is_sandwich_file(data) or name == "truncated", name
    with pytest.raises(BitstreamError, match="not a JPEG or AVIF"):
        api.describe(png.getvalue())
    # a mark from the future, malformed marks, a mark naming an unknown model
    fields = dict(model="x", level=1, quality=20, weights="0", width=8, height=8, carrier="rgb")
    mark = build_mark(fields)
    assert parse_mark(mark, "jpeg")["model"] == "x"
    with pytest.raises(BitstreamError, match="version '9'"):
        parse_mark(mark.replace(b"/1 ", b"/9 "), "jpeg")
    with pytest.raises(BitstreamError, match="non-integer"):
        parse_mark(mark.replace(b"l=1", b"l=one"), "jpeg")
    with pytest.raises(BitstreamError, match="lacks"):
        parse_mark(mark.replace(b" c=rgb", b""), "jpeg")
    with pytest.raises(BitstreamError, match="malformed"):
        parse_mark(mark + b" zz=1", "jpeg")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", comment=build_mark({**fields, "model": "no-such-model"}))
    with pytest.raises(BitstreamError, match="'no-such-model', which this pcodec does not have"):
        api.decompress_sandwich(buf.getvalue())
    with pytest.raises(UserFacingError, match="unknown sandwich model"):
        api.compress_sandwich(a, model="no-such-model", quality=1)


def test_api_rejects_bad_images():
    from perceptual_codec.core.errors import ImageReadError

    model = SandwichModel(JpegProxy(qualities=(20,)), pre_channels=(4, 8), post_channels=(4, 8)).eval()
    for bad in (np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32), np.zeros((0, 8, 3), np.uint8)):
        with pytest.raises(ImageReadError):
            api.encode_with(model, 0, bad, "t", "0" * 64)


def test_zoo_rows_and_shipped_models_roundtrip():
    from perceptual_codec.sandwich.zoo import MODELS, list_models

    rows = list_models()
    assert {r["name"] for r in rows} == set(MODELS) and all(r["kind"] == "sandwich" for r in rows)
    a = _crops()[2][:64, :80].copy()
    shipped = [r["name"] for r in rows if r["available"]]
    for name in shipped:
        data = api.compress_sandwich(a, model=name, quality=2)
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == MODELS[name].codec.upper()
        out = api.decompress_sandwich(data)
        assert out.shape == a.shape and _psnr(out, a) > 20
        assert api.describe(data)["model"] == name
    with pytest.raises(UserFacingError, match="quality"):
        api.compress_sandwich(a, model="sandwich-jpeg", quality=9)


def test_post_only_recipe_trains_post_on_real_decodes():
    from perceptual_codec.sandwich.lightning import LitSandwich
    from perceptual_codec.sandwich.losses import MSEDistortion

    lit = LitSandwich(JpegProxy(qualities=(10, 40)), MSEDistortion(), pre_channels=(4, 8),
                      post_channels=(4, 8), rd_lambda=[0.01, 0.001], train_pre=False)
    x = uint8_to_tensor(_crops()[0][:48, :48])[None]
    logs = lit._step(x, None, 0)
    logs["loss"].backward()
    assert all(p.grad is None for p in lit.model.pre.parameters())
    assert lit.model.post.alpha.grad is not None and lit.model.post.alpha.grad.abs() > 0
    # at initialisation the loss is plain JPEG's distortion (+ lambda * its real rate)
    plain = _plain_jpeg(_crops()[0][:48, :48], 10).astype(np.float64) / 255
    assert float(logs["distortion"]) == pytest.approx(np.mean((plain - x[0].permute(1, 2, 0).numpy()) ** 2), rel=1e-4)


def test_normalized_levels_weigh_each_level_by_its_relative_gain():
    from perceptual_codec.sandwich.lightning import LitSandwich
    from perceptual_codec.sandwich.losses import MSEDistortion

    lit = LitSandwich(JpegProxy(qualities=(10, 75)), MSEDistortion(), pre_channels=(4, 8),
                      post_channels=(4, 8), train_pre=False, normalize_levels=True)
    x = uint8_to_tensor(_crops()[0][:48, :48])[None]
    assert not bool(lit.lambda_ready)
    lit.on_train_batch_start(x, 0)  # measures the plain codec's slopes and distortions
    assert bool(lit.lambda_ready)
    d_plain = lit.plain_distortion
    assert d_plain[0] > 2 * d_plain[1] > 0  # q10 is far worse than q75
    for level in (0, 1):
        logs = lit._step(x, None, level)
        # bypass at init: the distortion is the plain codec's, so the normalised loss is
        # 1 + lambda * bpp / D_plain at every level, whatever the level's absolute MSE
        expect = 1 + float(lit.rd_lambda[level] * logs["bpp"] / d_plain[level])
        assert float(logs["loss"]) == pytest.approx(expect, rel=1e-3)
    # a checkpoint from before the buffer existed loads, and re-measures on the next batch
    state = {"state_dict": {k: v for k, v in lit.state_dict().items() if k != "plain_distortion"}}
    lit.on_load_checkpoint(state)
    lit.load_state_dict(state["state_dict"])
    assert not bool(lit.lambda_ready)


def test_init_weights_starts_from_an_export_and_rejects_a_mismatch(tmp_path):
    from perceptual_codec.sandwich.export import export_weights
    from perceptual_codec.sandwich.lightning import LitSandwich
    from perceptual_codec.sandwich.losses import MSEDistortion

    def lit(**kw):
        return LitSandwich(JpegProxy(qualities=(10, 40)), MSEDistortion(), pre_channels=(4, 8),
                           train_pre=False, **kw)

    src = lit(post_channels=(4, 8))
    with torch.no_grad():
        src.model.post.alpha.fill_(0.25)
    export_weights(src.model, tmp_path / "w.pt")
    warm = lit(post_channels=(4, 8), init_weights=str(tmp_path / "w.pt"))
    assert float(warm.model.post.alpha) == 0.25
    with pytest.raises(UserFacingError, match="trained as"):
        lit(post_channels=(6, 12), init_weights=str(tmp_path / "w.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserFacingError, match="init_weights"):
        lit(post_channels=(4, 8), init_weights=str(tmp_path / "junk.pt"))
