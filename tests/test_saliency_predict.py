"""The predict API: every input form, odd sizes, grayscale / RGBA, classic fallbacks,
user masks, the shipped model (offline) and the ``pcodec saliency`` command."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import saliency
from perceptual_codec.core.errors import ImageReadError, UserFacingError
from saliency.classic import CenterBias, ClassicMix, FineGrained, SpectralResidual
from saliency.learned import LearnedSaliency, export_weights, load_weights
from saliency.net import SaliencyNet, working_size
from saliency.zoo import SHIPPED_SHA256, SHIPPED_WEIGHTS

pytestmark = pytest.mark.usefixtures("one_thread")


def _scene(h: int = 63, w: int = 91) -> np.ndarray:
    """Gray textured background with one red disc left of centre (an obvious target)."""
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 110, np.uint8) + rng.integers(0, 12, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - h * 0.5) ** 2 + (xx - w * 0.25) ** 2 < (min(h, w) * 0.12) ** 2
    img[disc] = (230, 20, 20)
    return img


@pytest.fixture(scope="module")
def tiny_learned() -> LearnedSaliency:
    torch.manual_seed(0)
    return LearnedSaliency(SaliencyNet(decoder_channels=8, prior_maps=2, pretrained=False),
                           area=64 * 64).eval()


def _check_map(m: np.ndarray, shape: tuple[int, int]) -> None:
    assert m.shape == shape
    assert m.dtype == np.float32
    assert np.isfinite(m).all() and m.min() >= 0.0 and m.max() <= 1.0


@pytest.mark.parametrize("model_cls", [SpectralResidual, FineGrained, CenterBias, ClassicMix])
def test_classic_models_on_odd_sizes(model_cls):
    model = model_cls()
    for h, w in [(63, 91), (1, 7), (101, 3), (300, 17)]:
        _check_map(model.predict(_scene(h, w)), (h, w))


def test_classic_maps_find_the_target():
    img = _scene(120, 160)
    y, x = 60, 40  # the disc; (60, 120) is the mirror point on plain background
    for model in (SpectralResidual(), FineGrained(), ClassicMix()):
        m = model.predict(img)
        assert m[y, x] > m[60, 120] + 0.2, model.name


def test_center_prior_is_the_documented_gaussian():
    m = CenterBias(sigma=0.2).predict(np.zeros((40, 60), np.uint8))
    # pixel centre (0.5 + r) / H - 0.5, std 0.2 of each side
    dy = (0.5 + 0) / 40 - 0.5
    dx = (0.5 + 30) / 60 - 0.5
    assert m[0, 30] == pytest.approx(np.exp(-0.5 * (dy**2 + dx**2) / 0.04), rel=1e-5)
    assert np.unravel_index(m.argmax(), m.shape) in {(19, 29), (19, 30), (20, 29), (20, 30)}


def test_all_input_forms_agree(tiny_learned, tmp_path):
    rgb = _scene(37, 53)
    path = tmp_path / "img.png"
    Image.fromarray(rgb).save(path)
    as_tensor = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    inputs = [rgb, Image.fromarray(rgb), as_tensor, as_tensor[None],
              torch.from_numpy(rgb).permute(2, 0, 1), str(path), path]
    for model in (tiny_learned, SpectralResidual()):
        maps = [model.predict(x) for x in inputs]
        for m in maps:
            _check_map(m, (37, 53))
            np.testing.assert_allclose(m, maps[0], atol=1e-5)


def test_grayscale_and_rgba(tiny_learned, tmp_path):
    gray = _scene(45, 29)[..., 0]
    rgba = np.dstack([_scene(45, 29), np.full((45, 29), 255, np.uint8)])
    for model in (tiny_learned, FineGrained()):
        g = model.predict(gray)
        _check_map(g, (45, 29))
        np.testing.assert_allclose(model.predict(np.dstack([gray] * 3)), g, atol=1e-5)
        np.testing.assert_allclose(model.predict(Image.fromarray(gray, "L")), g, atol=1e-5)
        # opaque RGBA == RGB; fully transparent == white (composited like core.io)
        np.testing.assert_allclose(model.predict(rgba), model.predict(rgba[..., :3]), atol=1e-5)
        clear = rgba.copy()
        clear[..., 3] = 0
        white = model.predict(np.full((45, 29, 3), 255, np.uint8))
        np.testing.assert_allclose(model.predict(Image.fromarray(clear, "RGBA")), white, atol=1e-5)
        Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
        np.testing.assert_allclose(model.predict(tmp_path / "a.png"), model.predict(rgba), atol=1e-5)


def test_predict_batch_shapes_and_errors(tiny_learned):
    x = torch.rand(3, 3, 33, 47)
    for model in (tiny_learned, CenterBias(), SpectralResidual()):
        out = model.predict_batch(x)
        assert out.shape == (3, 1, 33, 47)
        assert not out.requires_grad
        assert out.min() >= 0 and out.max() <= 1
        with pytest.raises(ValueError, match=r"\(N,3,H,W\)"):
            model.predict_batch(torch.rand(3, 33, 47))
    with pytest.raises(ImageReadError, match="channels"):
        tiny_learned.predict(np.zeros((5, 5, 6), np.uint8))
    with pytest.raises(ImageReadError, match="cannot read an image"):
        tiny_learned.predict([[1, 2], [3, 4]])
    with pytest.raises(ImageReadError):
        tiny_learned.predict("/nonexistent/image.png")


def test_working_size_keeps_aspect():
    assert working_size(768, 1024) == (192, 256)
    assert working_size(1024, 768) == (256, 192)
    assert working_size(256, 256) == (224, 224)
    h, w = working_size(3, 5000)
    assert h == 32 and w % 32 == 0


def test_weights_round_trip(tiny_learned, tmp_path):
    path = tmp_path / "w.pt"
    export_weights(tiny_learned.net, path, area=64 * 64, meta={"note": "test"})
    loaded = load_weights(path)
    assert loaded.meta == {"note": "test"}
    img = _scene()
    # fp16 storage: the maps agree to fp16 precision
    np.testing.assert_allclose(loaded.predict(img), tiny_learned.predict(img), atol=2e-2)
    assert isinstance(saliency.load_model(path), LearnedSaliency)
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(UserFacingError, match="not a saliency weights file"):
        saliency.load_model(bad)


def test_user_map(tmp_path):
    mask = np.zeros((30, 40), np.uint8)
    mask[:15, 20:] = 255
    Image.fromarray(mask).save(tmp_path / "roi.png")
    m = saliency.load_user_map(tmp_path / "roi.png", (60, 80))
    _check_map(m, (60, 80))
    assert m[10, 70] == pytest.approx(1.0) and m[50, 10] == 0.0
    model = saliency.load_model(str(tmp_path / "roi.png"))
    _check_map(model.predict(_scene(120, 160)), (120, 160))
    # 16-bit masks are scaled by their bit depth; transparent pixels count as 0
    Image.fromarray(np.full((30, 40), 32768, np.uint16)).save(tmp_path / "half.png")
    assert saliency.load_user_map(tmp_path / "half.png", (30, 40)).mean() == pytest.approx(
        0.5, abs=1e-3)
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, :20, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    a = saliency.load_user_map(tmp_path / "alpha.png", (30, 40))
    assert a[:, :20].min() == pytest.approx(1.0) and a[:, 20:].max() == 0.0
    with pytest.raises(UserFacingError, match="aspect"):
        saliency.load_user_map(tmp_path / "roi.png", (40, 40))


def test_unknown_model_names_the_choices():
    with pytest.raises(UserFacingError, match="spectral-residual"):
        saliency.load_model("nope")
    with pytest.raises(UserFacingError, match="not found"):
        saliency.load_model("missing_weights.pt")


def test_list_models_rows():
    rows = saliency.list_models()
    names = {r["name"] for r in rows}
    assert {"saliency", "spectral-residual", "fine-grained", "center", "classic-mix"} <= names
    assert all(r["kind"] == "saliency" and isinstance(r["available"], bool) for r in rows)


def _shipped_or_skip():
    if not SHIPPED_WEIGHTS.is_file():
        pytest.skip(f"shipped weights not present: {SHIPPED_WEIGHTS}")


def test_shipped_model_loads_offline(monkeypatch):
    _shipped_or_skip()
    import perceptual_codec.core.assets as assets

    def no_assets(*a, **k):
        raise AssertionError("the shipped model must not need the ImageNet asset")

    monkeypatch.setattr(assets, "load_asset_state_dict", no_assets)
    assert assets.file_sha256(SHIPPED_WEIGHTS) == SHIPPED_SHA256
    assert SHIPPED_WEIGHTS.stat().st_size < 25 * 2**20
    model = saliency.load_model("saliency")
    assert isinstance(model, LearnedSaliency)
    img = _scene(120, 160)
    m = model.predict(img)
    _check_map(m, (120, 160))
    assert m.max() == pytest.approx(1.0)
    # it looks at the red disc more than at the mirror point on plain background
    assert m[60, 40] > m[60, 120]


def test_predict_command_writes_map_and_overlay(tmp_path, capsys):
    from perceptual_codec.cli import main

    img = tmp_path / "in.png"
    Image.fromarray(_scene(50, 70)).save(img)
    rc = main(["saliency", str(img), "-o", str(tmp_path / "map.png"),
               "--overlay", str(tmp_path / "ov.png"), "--model", "classic-mix"])
    assert rc == 0
    with Image.open(tmp_path / "map.png") as m, Image.open(tmp_path / "ov.png") as o:
        assert m.mode == "L" and m.size == (70, 50)
        assert o.mode == "RGB" and o.size == (70, 50)
        assert np.asarray(m).max() == 255
    rc = main(["saliency", str(img), "-o", str(img), "--model", "center"])
    assert rc == 1 and "input" in capsys.readouterr().err
    rc = main(["saliency", str(img), "-o", str(tmp_path / "x.png"), "--model", "nope"])
    assert rc == 1 and "unknown saliency model" in capsys.readouterr().err
