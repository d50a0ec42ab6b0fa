"""``pcodec bench rd`` end to end on tiny images: outputs, CompressAI schema, caching/resume,
parallel workers and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmarks.codecs.pillow import JPEGCodec
from benchmarks.metrics import MetricSuite
from benchmarks.rd.cache import ResultCache
from benchmarks.rd.cli import main, split_specs
from benchmarks.rd.runner import DataFolderError, discover_images, run_benchmark
from perceptual_codec.core.errors import UserFacingError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _photo() -> np.ndarray:
    skdata = pytest.importorskip("skimage.data")
    with Image.open(Path(skdata.__file__).parent / "astronaut.png") as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    a = _photo()
    Image.fromarray(a[20:68, 150:214]).save(d / "b_face.png")
    Image.fromarray(a[300:348, 300:364]).save(d / "a_suit.png")
    (d / "notes.txt").write_text("not an image")
    return d


CODECS = "jpeg:qualities=10,30,50,70,90,webp:qualities=5,25,50,75,95"


def _run(folder: Path, out: Path, *extra: str) -> int:
    return main([str(folder), "-o", str(out), "--codecs", CODECS, "--no-learned",
                 "--saliency", "none", "--no-progress", "--grid-crop", "32", *extra],
                prog="pcodec bench rd")


def test_outputs_schema_and_real_sizes(folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _run(folder, out, "--anchor", "jpeg") == 0
    per_image = pd.read_csv(out / "per_image.csv")
    assert len(per_image) == 2 * 10
    assert set(per_image["image"]) == {"a_suit", "b_face"}
    # bpp is the size of the real file that was written, over the pixel count
    for _, row in per_image.iterrows():
        files = list((out / "cache").glob(f"{row['codec']}-*/{row['image']}-*/q{row['quality']}.*"))
        real = [f for f in files if f.suffix != ".json"]
        assert len(real) == 1
        assert real[0].stat().st_size == row["bytes"]
        assert row["bpp"] == pytest.approx(8 * real[0].stat().st_size / (48 * 64))
        with Image.open(real[0]) as im:
            assert im.format == {"jpeg": "JPEG", "webp": "WEBP"}[row["codec"]]
    per_codec = pd.read_csv(out / "per_codec.csv")
    assert len(per_codec) == 10 and (per_codec["n_images"] == 2).all()
    jpeg50 = per_image[(per_image.codec == "jpeg") & (per_image.quality == 50)]
    got = per_codec[(per_codec.codec == "jpeg") & (per_codec.quality == 50)]
    assert got["psnr_rgb"].item() == pytest.approx(jpeg50["psnr_rgb"].mean())
    # CompressAI's own plotting utility reads our JSON
    plot = pytest.importorskip("compressai.utils.plot.__main__")
    for codec in ("jpeg", "webp"):
        path = out / "json" / f"{codec}.json"
        data = json.loads(path.read_text())
        assert set(data) >= {"name", "results"} and data["name"] == codec
        assert len(data["results"]["bpp"]) == len(data["results"]["psnr-rgb"]) == 5
        parsed = plot.parse_json_file(path, "psnr")
        assert list(parsed["xs"]) == sorted(parsed["xs"])
        assert parsed["ys"] == data["results"]["psnr-rgb"]
    # BD tables (anchor vs itself is 0) for both methods, plots and report
    for method in ("pchip", "cubic"):
        bd = pd.read_csv(out / "bd" / f"bd_rate_{method}.csv", index_col=0)
        assert bd.loc["jpeg", "psnr_rgb"] == pytest.approx(0.0, abs=1e-9)
        assert np.isfinite(bd.loc["webp", "psnr_rgb"])
    for png in ("rd_psnr_rgb.png", "rd_overview.png", "crops_a_suit.png"):
        with Image.open(out / "plots" / png) as im:
            assert im.format == "PNG" and im.size[0] > 100
    report = (out / "report.md").read_text()
    assert "pcodec bench rd " in report and "--anchor jpeg" in report
    assert "BD-rate [%], PCHIP" in report and "BD-rate [%], cubic" in report
    assert "plots/rd_overview.png" in report
    assert "20 points computed" in capsys.readouterr().out


def test_pairs_give_bd_rates_against_each_codecs_own_anchor(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(folder, out, "--anchor", "jpeg", "--pairs", "webp:jpeg,jpeg:webp") == 0
    paired = pd.read_csv(out / "bd" / "bd_rate_pchip_pairs.csv", index_col=[0, 1])
    main_table = pd.read_csv(out / "bd" / "bd_rate_pchip.csv", index_col=0)
    # webp against jpeg is the main table's webp row (anchor jpeg)
    assert paired.loc[("webp", "jpeg"), "psnr_rgb"] == pytest.approx(main_table.loc["webp", "psnr_rgb"])
    # the reverse pair: what one codec spends, the other saves
    a = paired.loc[("webp", "jpeg"), "psnr_rgb"] / 100
    b = paired.loc[("jpeg", "webp"), "psnr_rgb"] / 100
    assert np.sign(a) == -np.sign(b)
    assert "against each codec's own anchor" in (out / "report.md").read_text()
    # the matched-rate table: the anchor at each test point's own bpp, by log-rate interpolation
    matched = pd.read_csv(out / "matched_rate_pairs.csv")
    per_codec = pd.read_csv(out / "per_codec.csv")
    mine = matched[(matched.pair == "webp vs jpeg") & (matched.codec == "webp")]
    assert sorted(mine.bpp) == pytest.approx(sorted(per_codec[per_codec.codec == "webp"].bpp))
    jp = per_codec[per_codec.codec == "jpeg"].sort_values("bpp")
    for _, row in matched[(matched.pair == "webp vs jpeg") & (matched.codec == "jpeg")].iterrows():
        if jp.bpp.min() <= row.bpp <= jp.bpp.max():
            want = np.interp(np.log(row.bpp), np.log(jp.bpp), jp.psnr_rgb)
            assert row.psnr_rgb == pytest.approx(want)
        else:
            assert np.isnan(row.psnr_rgb)
    for bad, msg in (("webp", "not TEST:ANCHOR"), ("webp:avif", "not among the codecs")):
        with pytest.raises(UserFacingError, match=msg):
            _run(folder, tmp_path / "bad", "--pairs", bad)


def test_cache_skips_finished_work_and_resumes(folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _run(folder, out) == 0
    capsys.readouterr()
    records = sorted((out / "cache").rglob("q*.json"))
    assert len(records) == 20
    stamp = {p: p.stat().st_mtime_ns for p in records}
    assert _run(folder, out) == 0
    assert "0 points computed (0 re-scored from cached files), 20 from cache" in capsys.readouterr().out
    assert all(p.stat().st_mtime_ns == stamp[p] for p in records)  # nothing rewritten
    # an interrupted run: two points missing, one half-written record
    records[0].unlink()
    records[1].write_text('{"bpp": 0.')
    assert _run(folder, out) == 0
    assert "2 points computed (0 re-scored from cached files), 18 from cache" in capsys.readouterr().out


class CountingJPEG(JPEGCodec):
    calls = 0

    def encode(self, image, quality):
        CountingJPEG.calls += 1
        return super().encode(image, quality)


def test_cache_key_follows_codec_config(folder: Path, tmp_path: Path) -> None:
    images = discover_images(folder)
    cache = ResultCache(tmp_path / "cache")
    suite = MetricSuite(lpips=(), saliency=None)
    CountingJPEG.calls = 0
    r1 = run_benchmark(images, [CountingJPEG(qualities=[20, 60])], suite, cache, learned=False,
                       progress=False)
    assert (r1.computed, r1.reused, CountingJPEG.calls) == (4, 0, 4)
    r2 = run_benchmark(images, [CountingJPEG(qualities=[20, 60, 80])], suite, cache,
                       learned=False, progress=False)
    assert (r2.computed, r2.reused, CountingJPEG.calls) == (2, 4, 6)
    # another codec configuration never reuses these records
    from benchmarks.codecs.hevc import HEVCCodec

    assert HEVCCodec(preset="slow").config_id() != HEVCCodec(preset="fast").config_id()


class _LeftSaliency:
    def predict(self, image: np.ndarray) -> np.ndarray:
        s = np.zeros(image.shape[:2])
        s[:, : image.shape[1] // 3] = 1.0
        return s


def test_new_metrics_rescore_stored_files_without_encoding(folder: Path, tmp_path: Path) -> None:
    images = discover_images(folder)
    cache = ResultCache(tmp_path / "cache")
    CountingJPEG.calls = 0
    plain = MetricSuite(lpips=(), saliency=None)
    r1 = run_benchmark(images, [CountingJPEG(qualities=[25, 75])], plain, cache, learned=False,
                       progress=False)
    assert CountingJPEG.calls == 4 and "psnr_sal_in" not in r1.records[0]
    with_sal = MetricSuite(lpips=(), saliency="fake", salient_fraction=0.3)
    with_sal._saliency, with_sal._saliency_loaded = _LeftSaliency(), True
    with_sal.saliency_used = "fake"
    r2 = run_benchmark(images, [CountingJPEG(qualities=[25, 75])], with_sal, cache,
                       learned=False, progress=False)
    assert CountingJPEG.calls == 4  # nothing encoded again
    assert (r2.computed, r2.rescored, r2.reused) == (4, 4, 0)
    by_key = {(r["image"], r["quality"]): r for r in r1.records}
    for r in r2.records:
        old = by_key[(r["image"], r["quality"])]
        assert r["bytes"] == old["bytes"] and r["psnr_rgb"] == old["psnr_rgb"]
        assert np.isfinite(r["psnr_sal_in"])
    r3 = run_benchmark(images, [CountingJPEG(qualities=[25, 75])], with_sal, cache,
                       learned=False, progress=False)
    assert (r3.computed, r3.reused) == (0, 4)
    # a run that needs fewer metrics reuses the records and reports only its own columns
    r4 = run_benchmark(images, [CountingJPEG(qualities=[25, 75])], plain, cache, learned=False,
                       progress=False)
    assert (r4.computed, r4.reused) == (0, 4)
    assert all("psnr_sal_in" not in r and "psnr_rgb" in r for r in r4.records)


@pytest.mark.slow
def test_parallel_workers_match_serial(folder: Path, tmp_path: Path) -> None:
    images = discover_images(folder)
    suite = MetricSuite(lpips=(), saliency=None)
    codecs = [JPEGCodec(qualities=[30, 70])]
    serial = run_benchmark(images, codecs, suite, ResultCache(tmp_path / "a"), jobs=1,
                           learned=False, progress=False)
    parallel = run_benchmark(images, codecs, suite, ResultCache(tmp_path / "b"), jobs=2,
                             learned=False, progress=False)
    key = lambda r: (r["image"], r["quality"])  # noqa: E731
    a = sorted(serial.records, key=key)
    b = sorted(parallel.records, key=key)
    assert [(r["bytes"], r["psnr_rgb"]) for r in a] == [(r["bytes"], r["psnr_rgb"]) for r in b]
    assert parallel.computed == 4


def test_clear_errors_for_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(DataFolderError, match="does not exist"):
        discover_images(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("x")
    with pytest.raises(DataFolderError, match="holds no images"):
        discover_images(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataFolderError, match="broken.png"):
        discover_images(bad)
    with pytest.raises(UserFacingError, match="holds no images"):
        main([str(empty), "-o", str(tmp_path / "o"), "--no-progress"], prog="pcodec bench rd")


def test_codec_list_parsing() -> None:
    assert split_specs("jpeg:qualities=10,20,webp,hevc:preset=slow") == [
        "jpeg:qualities=10,20", "webp", "hevc:preset=slow"]
    assert split_specs("compressai-ckpt:arch=mbt2018:ckpt=a.pth,b.pth;jpeg") == [
        "compressai-ckpt:arch=mbt2018:ckpt=a.pth,b.pth", "jpeg"]
    with pytest.raises(UserFacingError, match="unique"):
        main(["x", "-o", "y", "--codecs", "jpeg,jpeg"], prog="p")


def test_limit_takes_the_first_images(folder: Path) -> None:
    imgs = discover_images(folder, limit=1)
    assert [i.name for i in imgs] == ["a_suit"]


@pytest.mark.shared
def test_kodak_is_readable_when_present() -> None:
    kodak = SHARED / "kodak"
    if not kodak.is_dir():
        pytest.skip("../shared/data/kodak not present")
    imgs = discover_images(kodak, limit=2)
    assert [(i.height, i.width) for i in imgs] == [(512, 768), (512, 768)]
