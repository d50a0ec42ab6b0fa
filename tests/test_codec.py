"""Codec model, API round trips, rate behaviour, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from perceptual_codec import api, container, zoo
from perceptual_codec.core.errors import BitstreamError, UserFacingError
from perceptual_codec.models import SaliencyMeanScaleHyperprior, build_model
from perceptual_codec.models.saliency_maps import classic_saliency


def tiny_model(seed: int = 0, conditioned: bool = True) -> SaliencyMeanScaleHyperprior:
    torch.manual_seed(seed)
    m = SaliencyMeanScaleHyperprior(N=16, M=24, num_qualities=3, conditioned=conditioned)
    m.eval()
    m.update(force=True)
    return m


@pytest.fixture(scope="module")
def model() -> SaliencyMeanScaleHyperprior:
    return tiny_model()


def test_forward_shapes():
    m = SaliencyMeanScaleHyperprior(N=16, M=24, num_qualities=3)
    x = torch.rand(2, 3, 128, 192)
    out = m(x, torch.rand(2, 1, 128, 192), torch.tensor([1, 3]))
    assert out["x_hat"].shape == x.shape
    assert out["likelihoods"]["y"].shape == (2, 24, 8, 12)
    assert out["likelihoods"]["z"].shape == (2, 16, 2, 3)
    assert build_model("sal-mshp", N=16, M=24).downsampling_factor == 64
    with pytest.raises(ValueError, match="quality"):
        m(x, None, 4)


def test_saliency_reaches_encoder_only():
    m = tiny_model()
    # make the modulation non-trivial, then check the map changes the latent
    with torch.no_grad():
        for mod in m.g_a.mods:
            mod.net[-1].weight.normal_(0, 0.5)
    x = torch.rand(1, 3, 64, 64)
    y0 = m.g_a(x, torch.zeros(1, 1, 64, 64))
    y1 = m.g_a(x, torch.ones(1, 1, 64, 64))
    assert not torch.allclose(y0, y1)
    # decompress has no saliency argument at all
    assert "s" not in m.decompress.__code__.co_varnames[: m.decompress.__code__.co_argcount]


def _eval_reconstruction(m, img: np.ndarray, quality: int, sal: np.ndarray | None) -> np.ndarray:
    h, w = img.shape[:2]
    ph, pw = (-h) % 64, (-w) % 64
    mode = "replicate" if h > 1 and w > 1 else "constant"
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
    s = None
    if sal is not None:
        s = torch.nn.functional.pad(torch.from_numpy(sal)[None, None], (0, pw, 0, ph), mode=mode)
    with torch.no_grad():
        x_hat = m(x, s, quality)["x_hat"][0, :, :h, :w].clamp(0, 1)
    return (x_hat * 255).round().byte().permute(1, 2, 0).numpy()


@pytest.mark.parametrize("shape", [(1, 1), (63, 65), (1000, 17), (64, 128)])
def test_round_trip_odd_sizes_equals_eval_forward(model, shape):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    base = skdata.astronaut()
    img = base[: shape[0], : shape[1]] if shape[0] <= 512 else np.tile(base[:, :17], (2, 1, 1))[
        : shape[0]
    ]
    img = np.ascontiguousarray(img)
    if img.shape[:2] != shape:
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    sal = classic_saliency(img)
    data = api.compress(img, model=model, quality=2, saliency=sal)
    out = api.decompress(data, model=model)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, _eval_reconstruction(model, img, 2, sal))
    # decoding is deterministic
    np.testing.assert_array_equal(out, api.decompress(data, model=model))
    assert api.info(data)["height"] == shape[0] and api.info(data)["width"] == shape[1]


def test_saliency_none_and_mask(model, tmp_path):
    from PIL import Image

    img = skdata.chelsea()[:100, :150]
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[20:60, 30:90] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    d_none = api.compress(img, model=model, quality=1, saliency="none")
    d_mask = api.compress(img, model=model, quality=1, saliency=str(tmp_path / "mask.png"))
    assert api.info(d_none)["saliency"] == "none" and api.info(d_mask)["saliency"] == "mask"
    np.testing.assert_array_equal(
        api.decompress(d_none, model=model), _eval_reconstruction(model, img, 1, None)
    )
    with pytest.raises(UserFacingError, match="mask"):
        api.compress(img, model=model, saliency=str(tmp_path / "missing.png"))
    with pytest.raises(UserFacingError, match="shape"):
        api.compress(img, model=model, saliency=np.zeros((5, 5), np.float32))


def test_wrong_weights_rejected(model):
    data = api.compress(skdata.coffee()[:64, :64], model=model, quality=1)
    with pytest.raises(BitstreamError, match="other weights"):
        api.decompress(data, model=tiny_model(seed=1))


def test_quality_out_of_range(model):
    with pytest.raises(UserFacingError, match="quality"):
        api.compress(skdata.coffee()[:64, :64], model=model, quality=9)


def test_weights_file_fp16_round_trip(tmp_path):
    m = tiny_model()
    info = zoo.save_weights(m, tmp_path / "w.pt")
    # small: fp16 parameters; most of the file is the 256-level entropy tables
    assert info["bytes"] < 5_000_000 and len(info["sha256"]) == 64
    loaded = zoo.load_weights_file(tmp_path / "w.pt")
    img = skdata.rocket()[:128, :128]
    data = api.compress(img, model=loaded, quality=3, saliency="none")
    # the stored weights (rounded to fp16) are exactly what the file decodes with
    assert loaded.pcodec_digest == zoo.state_digest(m)
    # float16 storage must not touch the small bounds kept in buffers (1e-9 -> 0 in fp16)
    bound = loaded.gaussian_conditional.likelihood_lower_bound.bound
    assert bound.dtype == torch.float32 and float(bound) > 0
    np.testing.assert_array_equal(api.decompress(data, model=m), api.decompress(data, model=loaded))
    with pytest.raises(UserFacingError, match="not a perceptual-codec weights"):
        torch.save({"x": torch.zeros(1)}, tmp_path / "bad.pt")
        zoo.load_weights_file(tmp_path / "bad.pt")


def test_zoo_rows_and_unknown_model():
    rows = zoo.list_models()
    assert any(r["name"] == "sal-mshp" and r["kind"] == "codec" for r in rows)
    assert all(set(r) >= {"name", "kind", "description", "available"} for r in rows)
    with pytest.raises(UserFacingError, match="unknown codec model"):
        zoo.load_model("no-such-model")


def test_cli_round_trip(tmp_path, monkeypatch, capsys):
    from perceptual_codec.cli import main
    from perceptual_codec.core.io import save_png

    m = tiny_model()
    zoo.save_weights(m, tmp_path / "sal_mshp.pt")
    monkeypatch.setenv("PCODEC_WEIGHTS_DIR", str(tmp_path))
    zoo._load_cached.cache_clear()
    img = skdata.astronaut()[:70, :90]
    save_png(img, tmp_path / "in.png")
    assert main(["compress", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.pcc"),
                 "--quality", "2", "--saliency", "classic"]) == 0
    assert main(["info", str(tmp_path / "a.pcc")]) == 0
    assert "sal-mshp" in capsys.readouterr().out
    assert main(["decompress", str(tmp_path / "a.pcc"), "-o", str(tmp_path / "out.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "out.png").size == (90, 70)
    (tmp_path / "junk.pcc").write_bytes(b"hello world, not a codec file")
    assert main(["decompress", str(tmp_path / "junk.pcc"), "-o", str(tmp_path / "x.png")]) == 1
    assert "wrong magic" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    zoo._load_cached.cache_clear()


shipped = pytest.mark.skipif(not zoo.weights_path("sal-mshp").is_file(),
                             reason="shipped sal-mshp weights not present")


def _shipped_steps() -> int:
    blob = torch.load(zoo.weights_path("sal-mshp"), map_location="cpu", weights_only=True)
    return int(blob.get("meta", {}).get("global_step", 0))


# The coder matches the model's rate only where the predicted scales fit the latents; the
# weights exported after a few dozen CPU steps are far from that (see MODEL_CARD.md).
CONVERGED_STEPS = 2000


@shipped
def test_shipped_rate_falls_with_quality():
    sizes = [len(api.compress(skdata.coffee(), model="sal-mshp", quality=q, saliency="classic"))
             for q in range(1, zoo.MODELS["sal-mshp"].qualities + 1)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


@shipped
def test_shipped_rate_matches_estimate_and_falls_with_quality():
    steps = _shipped_steps()
    if steps < CONVERGED_STEPS:
        pytest.skip(f"shipped weights trained {steps} steps (< {CONVERGED_STEPS}): not converged")
    m = zoo.load_model("sal-mshp")
    img = skdata.astronaut()  # 512x512, a multiple of the stride: no padding in the estimate
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    sal = classic_saliency(img)
    s = torch.from_numpy(sal)[None, None]
    sizes = []
    for q in range(1, m.num_qualities + 1):
        with torch.no_grad():
            out = m(x, s, q)
        est_bits = sum(-torch.log2(v).sum().item() for v in out["likelihoods"].values())
        data = api.compress(img, model="sal-mshp", quality=q, saliency=sal)
        header_bytes = len(data) - sum(api.info(data)["section_lengths"])
        actual_bits = 8 * (len(data) - header_bytes)
        assert abs(actual_bits - est_bits) / est_bits < 0.02, (q, actual_bits, est_bits)
        sizes.append(len(data))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


def test_container_limits():
    h = container.Header(model="m", weights_digest=b"\0" * 8, quality=1, height=10, width=10,
                         pad_bottom=54, pad_right=54, latent_height=1, latent_width=1)
    blob = container.pack(h, [b"abc", b"de"])
    header, sections = container.unpack(blob)
    assert sections == [b"abc", b"de"] and header.model == "m"
    with pytest.raises(ValueError):
        container.pack(container.Header(**{**h.__dict__, "height": 0}), [b"a"])
