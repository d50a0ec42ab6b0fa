"""COCO downstream benchmark: results format, RLE, detectors, classification, pipeline, CLI.

Every test builds its own tiny COCO data set from generated images (no ../shared needed).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.coco.dataset import CocoDataset, DatasetError
from benchmarks.coco.detectors import DetectorError, OracleDetector, load_detector
from benchmarks.coco.results import (
    ResultsFormatError,
    decode_mask,
    encode_mask,
    evaluate,
    mask_to_bbox,
    quiet_coco,
    validate_results,
)

CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 18, "name": "dog", "supercategory": "animal"},
]


def _polygon(kind: str, x: float, y: float, w: float, h: float) -> list[float]:
    if kind == "rect":
        return [x, y, x + w, y, x + w, y + h, x, y + h]
    if kind == "tri":
        return [x, y + h, x + w / 2, y, x + w, y + h]
    return [x + w / 2, y, x + w, y + h / 2, x + w / 2, y + h, x, y + h / 2]  # diamond


def make_coco(root: Path, num_images: int = 3, size: tuple[int, int] = (96, 128), seed: int = 0) -> Path:
    """Images with textured shapes on a noisy background, polygons as ground truth."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    h, w = size
    images, anns = [], []
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(num_images):
        image_id = 100 + 7 * k
        base = (rng.integers(40, 200, 3)[None, None, :] + 30 * np.sin(xx / (3 + k))[..., None]
                + rng.normal(0, 18, (h, w, 3)))
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for j, kind in enumerate(("rect", "tri", "diamond")):
            bw, bh = int(rng.integers(18, 40)), int(rng.integers(18, 40))
            x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            poly = _polygon(kind, x0, y0, bw, bh)
            color = tuple(int(c) for c in rng.integers(0, 255, 3))
            draw.polygon(poly, fill=color)
            xs, ys = poly[0::2], poly[1::2]
            anns.append({
                "id": len(anns) + 1, "image_id": image_id, "category_id": CATEGORIES[j]["id"],
                "segmentation": [poly], "area": float(bw * bh / (1 if kind == "rect" else 2)),
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)], "iscrowd": 0,
            })
        name = f"{image_id:012d}.png"
        img.save(root / "val2017" / name)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
    data = {"images": images, "annotations": anns, "categories": CATEGORIES, "info": {}, "licenses": []}
    path = root / "annotations" / "instances_val2017.json"
    path.write_text(json.dumps(data))
    return path


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def coco(tmp_path: Path) -> CocoDataset:
    ann = make_coco(tmp_path / "coco")
    return CocoDataset(tmp_path / "coco" / "val2017", ann)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


# -- RLE and results format -------------------------------------------------------------------

def test_rle_round_trip_through_pycocotools() -> None:
    rng = np.random.default_rng(1)
    mask = np.zeros((37, 53), bool)
    mask[5:20, 7:30] = True
    mask[rng.random(mask.shape) < 0.1] = True  # holes and specks: a non-trivial run pattern
    rle = encode_mask(mask)
    assert isinstance(rle["counts"], str) and rle["size"] == [37, 53]
    rle = json.loads(json.dumps(rle))  # survives JSON (the cache and results files)
    np.testing.assert_array_equal(decode_mask(rle), mask)
    # through COCO.loadRes: area and the box pycocotools derives agree with the mask
    gt = quiet_coco({"images": [{"id": 1, "width": 53, "height": 37}], "annotations": [],
                     "categories": CATEGORIES})
    dt = gt.loadRes([{"image_id": 1, "category_id": 1, "segmentation": rle, "score": 0.9}])
    ann = dt.loadAnns(dt.getAnnIds())[0]
    assert ann["area"] == mask.sum()
    np.testing.assert_allclose(ann["bbox"], mask_to_bbox(mask))
    np.testing.assert_array_equal(dt.annToMask(ann).astype(bool), mask)


def test_uncompressed_counts_rle_decodes() -> None:
    mask = np.zeros((4, 3), bool)
    mask[1:3, 1] = True  # column-major runs: 5 zeros, 2 ones, 5 zeros
    np.testing.assert_array_equal(decode_mask({"size": [4, 3], "counts": [5, 2, 5]}), mask)


def test_validate_results_names_the_problem(coco: CocoDataset) -> None:
    ok = {"image_id": coco.image_ids[0], "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}
    kwargs = {"image_ids": coco.image_ids, "category_ids": coco.category_ids}
    assert validate_results([ok], **kwargs)[0]["bbox"] == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ResultsFormatError, match="category_id 2 "):
        validate_results([{**ok, "category_id": 2}], **kwargs)
    assert validate_results([{**ok, "category_id": 2}, ok], drop_unknown_categories=True,
                            **kwargs) == validate_results([ok], **kwargs)
    with pytest.raises(ResultsFormatError, match="lacks score"):
        validate_results([{k: v for k, v in ok.items() if k != "score"}], **kwargs)
    with pytest.raises(ResultsFormatError, match="segmentation"):
        validate_results([ok], iou_types=("bbox", "segm"), **kwargs)
    with pytest.raises(ResultsFormatError, match="image_id 5"):
        validate_results([{**ok, "image_id": 5}], **kwargs)


def test_evaluate_empty_and_shifted(coco: CocoDataset) -> None:
    assert evaluate(coco.coco, [], "bbox")["AP"] == 0.0
    anns = coco.gt["annotations"]
    exact = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
              "score": 1.0} for a in anns]
    assert evaluate(coco.coco, exact, "bbox")["AP"] == pytest.approx(1.0)
    shifted = [{**d, "bbox": [d["bbox"][0] + d["bbox"][2] * 0.3, *d["bbox"][1:]]} for d in exact]
    stats = evaluate(coco.coco, shifted, "bbox")
    assert 0.0 < stats["AP"] < 0.7 and stats["AP50"] == pytest.approx(1.0)


# -- data set ---------------------------------------------------------------------------------

def test_dataset_errors(tmp_path: Path) -> None:
    ann = make_coco(tmp_path / "c", num_images=2)
    with pytest.raises(DatasetError, match="does not exist"):
        CocoDataset(tmp_path / "nope", ann)
    (tmp_path / "c" / "val2017" / "000000000100.png").unlink()
    with pytest.raises(DatasetError, match="missing"):
        CocoDataset(tmp_path / "c" / "val2017", ann)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match="JSON"):
        CocoDataset(tmp_path / "c" / "val2017", bad)


def test_dataset_size_mismatch(tmp_path: Path) -> None:
    ann = make_coco(tmp_path / "c", num_images=1)
    Image.new("RGB", (10, 10)).save(tmp_path / "c" / "val2017" / "000000000100.png")
    ds = CocoDataset(tmp_path / "c" / "val2017", ann)
    with pytest.raises(DatasetError, match="10x10"):
        ds.load(100)


# -- detectors --------------------------------------------------------------------------------

def test_oracle_ap_one_uncompressed_and_lower_after_jpeg(coco: CocoDataset) -> None:
    oracle = OracleDetector(coco, tolerance=16)
    ids = coco.image_ids
    originals = [coco.load(i) for i in ids]
    clean = oracle.predict(originals, ids)
    for iou in ("bbox", "segm"):
        assert evaluate(coco.coco, clean, iou)["AP"] == pytest.approx(1.0)
    for quality, expect_below in ((5, 0.5), (40, 1.0)):
        dets = oracle.predict([jpeg(im, quality) for im in originals], ids)
        ap = {iou: evaluate(coco.coco, dets, iou)["AP"] for iou in ("bbox", "segm")}
        assert ap["bbox"] < expect_below and ap["segm"] < expect_below
        if quality == 5:
            heavy = ap
        else:
            assert ap["segm"] > heavy["segm"]  # milder compression keeps more objects intact


def test_oracle_rejects_wrong_size(coco: CocoDataset) -> None:
    oracle = OracleDetector(coco)
    with pytest.raises(DetectorError, match="original"):
        oracle.predict([np.zeros((8, 8, 3), np.uint8)], [coco.image_ids[0]])


def test_torchvision_random_weights_give_valid_coco_results(coco: CocoDataset) -> None:
    det = load_detector("maskrcnn", weights="random", options={
        "score_threshold": 0.0, "max_detections": 10, "min_size": 64, "max_size": 96,
        "proposals": 16})
    assert det.iou_types == ("bbox", "segm")
    ids = coco.image_ids[:2]
    results = det.predict([coco.load(i) for i in ids], ids)
    assert results, "an untrained head with threshold 0 still returns boxes"
    clean = validate_results(results, image_ids=ids, category_ids=[c["id"] for c in
                             json.loads(Path(coco.annotations_path).read_text())["categories"]]
                             + [c for c in range(1, 91)], iou_types=det.iou_types)
    for d in clean:
        x, y, w, h = d["bbox"]
        assert 0 <= x and 0 <= y and x + w <= 128.01 and y + h <= 96.01
        assert decode_mask(d["segmentation"]).shape == (96, 128)
    # restricted to the fixture's categories it still scores through COCOeval
    ours = [d for d in clean if d["category_id"] in coco.category_ids]
    for iou in ("bbox", "segm"):
        ap = evaluate(coco.coco, ours, iou, ids)["AP"]
        assert 0.0 <= ap <= 1.0


def test_faster_rcnn_has_bbox_only() -> None:
    det = load_detector("fasterrcnn", weights="random", options={"min_size": 64, "max_size": 96})
    assert det.iou_types == ("bbox",)
    assert det.config()["weights"].startswith("random")


def test_missing_weights_error_names_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perceptual_codec.core.errors import AssetNotFoundError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PCODEC_OFFLINE", "1")
    monkeypatch.delenv("PCODEC_ASSETS_DIR", raising=False)
    monkeypatch.delenv("PCODEC_MASKRCNN_WEIGHTS", raising=False)
    with pytest.raises(AssetNotFoundError) as info:
        load_detector("maskrcnn")
    msg = str(info.value)
    assert "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth" in msg
    assert "PCODEC_MASKRCNN_WEIGHTS" in msg and "--weights" in msg
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in msg
    with pytest.raises(AssetNotFoundError, match="does not exist"):
        load_detector("fasterrcnn", weights=str(tmp_path / "missing.pth"))


def test_wrong_weights_file_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perceptual_codec.core.assets import AssetHashError
    from perceptual_codec.core.errors import AssetNotFoundError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    fake = tmp_path / "torch" / "hub" / "checkpoints" / "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not the weights")
    with pytest.raises(AssetHashError, match="258fb6c6"):  # an explicit file is refused
        load_detector("fasterrcnn", weights=str(fake))
    # a corrupt cache file is skipped with a warning naming the hash, then reported missing
    monkeypatch.setenv("PCODEC_OFFLINE", "1")
    with pytest.warns(UserWarning, match="258fb6c6"), pytest.raises(AssetNotFoundError):
        load_detector("fasterrcnn")


def test_plugin_detector_factory(coco: CocoDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_det.py").write_text(
        "from benchmarks.coco.detectors import OracleDetector\n"
        "def make(dataset, tolerance='4'):\n"
        "    return OracleDetector(dataset, float(tolerance))\n"
        "def broken():\n"
        "    return object()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    det = load_detector("my_det:make", dataset=coco, options={"tolerance": "4"})
    assert det.config() == {"name": "oracle", "tolerance": 4.0}
    with pytest.raises(DetectorError, match="without name"):
        load_detector("my_det:broken", dataset=coco)
    with pytest.raises(DetectorError, match="unknown detector"):
        load_detector("yolo")


# -- classification consistency ---------------------------------------------------------------

def test_consistency_numbers() -> None:
    from benchmarks.coco.classification import consistency

    p = np.log(np.array([[0.7, 0.2, 0.1, 0, 0, 0], [0.1, 0.1, 0.8, 0, 0, 0]]) + 1e-12)
    same = consistency(p, p)
    assert same == {"top1_agreement": 1.0, "top5_agreement": 1.0, "kl": 0.0}
    q = np.log(np.array([[0.2, 0.7, 0.1, 0, 0, 0], [0.1, 0.1, 0.8, 0, 0, 0]]) + 1e-12)
    out = consistency(p, q)
    assert out["top1_agreement"] == 0.5
    expected = (0.7 * np.log(0.7 / 0.2) + 0.2 * np.log(0.2 / 0.7)) / 2
    assert out["kl"] == pytest.approx(expected, rel=1e-6)


def _lite0():
    pytest.importorskip("efficientnet_lite_pytorch")
    from benchmarks.coco.classification import ImageNetClassifier
    from perceptual_codec.core.errors import AssetNotFoundError

    try:
        return ImageNetClassifier()
    except AssetNotFoundError as exc:
        pytest.skip(f"EfficientNet-Lite0 weights not installed: {exc}")


def test_classifier_identical_images_agree_and_jpeg_drifts(coco: CocoDataset) -> None:
    from benchmarks.coco.classification import consistency

    clf = _lite0()
    originals = [coco.load(i) for i in coco.image_ids]
    ref = clf.log_probs(originals)
    assert ref.shape == (3, 1000) and np.allclose(np.exp(ref).sum(1), 1, atol=1e-4)
    assert consistency(ref, clf.log_probs(originals))["kl"] == pytest.approx(0.0, abs=1e-6)
    heavy = consistency(ref, clf.log_probs([jpeg(im, 2) for im in originals]))
    mild = consistency(ref, clf.log_probs([jpeg(im, 95) for im in originals]))
    assert heavy["kl"] > mild["kl"] > 0.0


# -- pipeline, cache, report, CLI -------------------------------------------------------------

def _run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    from perceptual_codec.cli import main

    rc = main(["bench", "coco", *argv])
    return rc, capsys.readouterr().err


def test_cli_oracle_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import pandas as pd

    make_coco(tmp_path / "coco")
    out = tmp_path / "out"
    argv = ["--data", str(tmp_path / "coco"), "--codec", "jpeg:qualities=3,30,90",
            "--codec", "webp:qualities=5,80", "--detector", "oracle", "--classifier", "none",
            "--out", str(out), "--batch-size", "2", "--no-progress"]
    rc, err = _run_cli([*argv, "--save-detections"], capsys)
    assert rc == 0, err
    saved = quiet_coco(str(tmp_path / "coco" / "annotations" / "instances_val2017.json")).loadRes(
        str(out / "detections" / "jpeg_q3.json"))
    assert len(saved.getAnnIds()) == 9  # 3 images x 3 objects, loadable by pycocotools
    df = pd.read_csv(out / "coco_results.csv")
    assert list(df["codec"]) == ["original", "jpeg", "jpeg", "jpeg", "webp", "webp"]
    ref = df.iloc[0]
    assert ref["bbox_AP"] == pytest.approx(100.0) and ref["segm_AP"] == pytest.approx(100.0)
    jp = df[df["codec"] == "jpeg"].sort_values("quality")
    assert list(jp["bpp"]) == sorted(jp["bpp"])
    assert jp["segm_AP"].iloc[0] < jp["segm_AP"].iloc[2] < 100.0
    doc = json.loads((out / "json" / "jpeg.json").read_text())
    assert doc["name"] == "jpeg" and len(doc["results"]["map-bbox"]) == 3
    assert len(doc["results"]["map-segm"]) == 3 and len(doc["results"]["bpp"]) == 3
    report = (out / "report.md").read_text()
    assert "pcodec bench coco --data" in report and "oracle" in report
    assert (out / "map_vs_bpp.png").stat().st_size > 1000
    bd = pd.read_csv(out / "bd_deltas.csv", index_col=0)
    assert bd.loc["jpeg", "BD-map-bbox"] == pytest.approx(0.0)

    # resume: nothing left to compute, same table
    first = (out / "coco_results.csv").read_text()
    from benchmarks.coco.dataset import CocoDataset as DS
    from benchmarks.coco.pipeline import BatchProcessor, make_settings, pending_items
    from benchmarks.codecs import parse_codec_spec

    ds = DS(tmp_path / "coco" / "val2017", tmp_path / "coco" / "annotations" / "instances_val2017.json")
    codecs = [parse_codec_spec("jpeg:qualities=3,30,90"), parse_codec_spec("webp:qualities=5,80")]
    proc = BatchProcessor(make_settings(codecs), out / "cache", ds, OracleDetector(ds))
    assert pending_items(proc, ds.image_ids) == []
    proc_other = BatchProcessor(make_settings(codecs), out / "cache", ds, OracleDetector(ds, 4.0))
    assert len(pending_items(proc_other, ds.image_ids)) == 6 * 3  # another config: recompute
    rc, err = _run_cli(argv, capsys)
    assert rc == 0 and "0 to compute" not in err  # --no-progress: silent
    assert (out / "coco_results.csv").read_text() == first


def test_cli_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    make_coco(tmp_path / "coco", num_images=1)
    rc, err = _run_cli(["--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "--data" in err
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PCODEC_OFFLINE", "1")
    monkeypatch.delenv("PCODEC_FASTERRCNN_WEIGHTS", raising=False)
    rc, err = _run_cli(["--data", str(tmp_path / "coco"), "--detector", "fasterrcnn",
                        "--classifier", "none", "--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth" in err and "Traceback" not in err
    rc, err = _run_cli(["--data", str(tmp_path / "coco"), "--codec", "nosuch", "--out",
                        str(tmp_path / "o")], capsys)
    assert rc == 1 and "unknown codec" in err


def test_lightning_ddp_predict_fills_the_cache(coco: CocoDataset, tmp_path: Path) -> None:
    from benchmarks.coco.lightning import run_lightning
    from benchmarks.coco.pipeline import (
        BatchProcessor,
        RoundTripItems,
        make_settings,
        pending_items,
        run_local,
        summarize,
    )
    from benchmarks.codecs import parse_codec_spec

    codecs = [parse_codec_spec("jpeg:qualities=5,60")]
    settings = make_settings(codecs)

    def rows(root: Path, lightning: bool) -> list[dict]:
        proc = BatchProcessor(settings, root, coco, OracleDetector(coco))
        items = RoundTripItems(coco, {"jpeg": codecs[0]}, settings, pending_items(proc, coco.image_ids))
        if lightning:
            assert run_lightning(proc, items, batch_size=2, accelerator="cpu", devices=1,
                                 strategy="ddp", progress=False)
        else:
            run_local(proc, items, batch_size=2, progress=False)
        assert pending_items(proc, coco.image_ids) == []
        return summarize(proc, coco.image_ids)

    import os

    import pandas as pd
    import torch.distributed as dist

    env = dict(os.environ)
    try:
        via_ddp = pd.DataFrame(rows(tmp_path / "pl", True))
    finally:  # leave no process group or rendezvous variables behind for other tests
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        os.environ.clear()
        os.environ.update(env)
    pd.testing.assert_frame_equal(via_ddp, pd.DataFrame(rows(tmp_path / "local", False)))


def test_cli_torchvision_random_detector_through_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import pandas as pd

    make_coco(tmp_path / "coco", num_images=2)
    opts = ["score_threshold=0", "min_size=64", "max_size=96", "proposals=8", "max_detections=5"]
    argv = ["--data", str(tmp_path / "coco"), "--codec", "jpeg:qualities=20", "--detector",
            "fasterrcnn", "--weights", "random", "--classifier", "none", "--out",
            str(tmp_path / "out"), "--no-progress"]
    for o in opts:
        argv += ["--detector-opt", o]
    rc, err = _run_cli(argv, capsys)
    assert rc == 0, err
    df = pd.read_csv(tmp_path / "out" / "coco_results.csv")
    assert "segm_AP" not in df.columns and df["bbox_AP"].between(0, 100).all()
    doc = json.loads((tmp_path / "out" / "json" / "jpeg.json").read_text())
    assert "map-bbox" in doc["results"] and "map-segm" not in doc["results"]


def test_find_annotations_layouts(tmp_path: Path) -> None:
    from benchmarks.coco.dataset import find_annotations

    ann = make_coco(tmp_path / "coco", num_images=1)
    assert find_annotations(tmp_path / "coco") == (tmp_path / "coco" / "val2017", ann)
    (tmp_path / "coco" / "annotations" / "instances_train2017.json").write_text("{}")
    assert find_annotations(tmp_path / "coco")[1] == ann  # val2017 preferred
    with pytest.raises(DatasetError, match="instances"):
        find_annotations(tmp_path / "coco" / "val2017")
