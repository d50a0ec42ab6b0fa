"""Benchmark metrics: conventions, the salient region, and LPIPS from reused features."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.metrics import (
    MetricSuite,
    lpips_features,
    lpips_from_features,
    ms_ssim,
    ms_ssim_db,
    psnr,
    salient_mask,
)


def natural_image(h: int, w: int) -> np.ndarray:
    skdata = pytest.importorskip("skimage.data")
    with Image.open(Path(skdata.__file__).parent / "astronaut.png") as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"))[:h, 100:100 + w])


def test_psnr_convention() -> None:
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10  # MSE = 100 / 60
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 * 60 / 100))
    assert psnr(a, a) == math.inf


def test_ms_ssim_and_db() -> None:
    img = natural_image(192, 192)
    noisy = np.clip(img.astype(int) + np.random.default_rng(0).integers(-12, 13, img.shape),
                    0, 255).astype(np.uint8)
    v = ms_ssim(img, noisy)
    assert 0.8 < v < 1.0
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim_db(v) == pytest.approx(-10 * math.log10(1 - v))
    assert math.isnan(ms_ssim(img[:100, :100], noisy[:100, :100]))  # too small for 5 scales


def test_salient_mask_takes_the_exact_top_share() -> None:
    rng = np.random.default_rng(1)
    smap = rng.random((40, 50))
    mask = salient_mask(smap, 0.2)
    assert mask.sum() == 400
    assert smap[mask].min() >= smap[~mask].max()
    flat = salient_mask(np.zeros((10, 10)), 0.25)  # ties: first pixels in raster order
    assert flat.sum() == 25 and flat.ravel()[:25].all()
    with pytest.raises(ValueError):
        salient_mask(smap, 1.5)


class _HalfSaliency:
    """Left half salient: a stand-in model with the saliency package's predict()."""

    def predict(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        s = np.zeros((h, w))
        s[:, : w // 2] = 1.0
        s[:, : w // 4] = 2.0
        return s


def test_saliency_aware_psnr_separates_regions() -> None:
    img = natural_image(40, 64)
    suite = MetricSuite(lpips=(), saliency="test", salient_fraction=0.25)
    suite._saliency, suite._saliency_loaded, suite.saliency_used = _HalfSaliency(), True, "test"
    mask = suite.saliency_mask(img)
    assert mask[:, :16].all() and not mask[:, 16:].any()
    dec = img.copy()
    dec[:, :16] ^= 8  # errors only inside the salient region
    row = suite.score(img, dec, mask, learned=False)
    assert row["psnr_sal_out"] == math.inf and math.isfinite(row["psnr_sal_in"])
    assert row["psnr_sal_in"] < row["psnr_rgb"]


def test_missing_models_are_skipped_with_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    suite = MetricSuite(lpips=("no-such-metric",), saliency="saliency")
    assert suite.lpips_models == {}
    assert any("no-such-metric" in n for n in suite.notes)
    import saliency
    from perceptual_codec.core.errors import AssetNotFoundError

    def only_classic(name: str) -> _HalfSaliency:
        if name != "classic-mix":
            raise AssetNotFoundError(f"weights for {name} not found")
        return _HalfSaliency()

    monkeypatch.setattr(saliency, "load_model", only_classic, raising=False)
    assert isinstance(suite.load_saliency(), _HalfSaliency)
    assert suite.saliency_used == "classic-mix"
    assert any("could not load" in n for n in suite.notes)

    def nothing(name: str) -> None:
        raise AssetNotFoundError(name)

    monkeypatch.setattr(saliency, "load_model", nothing, raising=False)
    none = MetricSuite(lpips=(), saliency="saliency")
    assert none.load_saliency() is None
    assert any("saliency columns skipped" in n for n in none.notes)


def test_lpips_from_reused_features_matches_the_module() -> None:
    torch = pytest.importorskip("torch")
    suite = MetricSuite(lpips=("lpips-alex",), saliency=None)
    if "lpips-alex" not in suite.lpips_models:
        pytest.skip(f"lpips-alex unavailable: {suite.notes}")
    model = suite.lpips_models["lpips-alex"]
    img = natural_image(64, 96)
    dec = np.clip(img.astype(int) + 20, 0, 255).astype(np.uint8)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    y = torch.from_numpy(dec).permute(2, 0, 1)[None].float() / 255
    value, dmap = lpips_from_features(model, lpips_features(model, x), lpips_features(model, y),
                                      (64, 96), spatial=True)
    with torch.no_grad():
        assert value == pytest.approx(float(model(x, y, normalize=True)), rel=1e-5)
        model.spatial = True
        try:
            ref_map = model(x, y, normalize=True)[0, 0].numpy()
        finally:
            model.spatial = False
    np.testing.assert_allclose(dmap, ref_map, rtol=1e-5, atol=1e-7)
    mask = np.zeros((64, 96), bool)
    mask[:, :48] = True
    row = suite.score(img, dec, mask)
    assert row["lpips_alex"] == pytest.approx(value, rel=1e-5)
    assert row["lpips_alex_sal_in"] == pytest.approx(ref_map[mask].mean(), rel=1e-5)
    assert suite.score(img, img)["lpips_alex"] == pytest.approx(0.0, abs=1e-7)
