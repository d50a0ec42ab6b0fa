"""2AFC loaders: BAPPS 2AFC/JND folders, CSV/JSONL triplets, MOS-derived pairs; bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from twoafc.datasets import (
    BAPPS2AFC,
    BAPPSJND,
    MOSPairs,
    Preprocess,
    TripletTable,
    TwoAFCDataError,
    open_dataset,
    split_by_group,
)
from twoafc.thurstone import thurstone_prob

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _png(path: Path, value: int, size=(16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((size[1], size[0], 3), value, np.uint8)
    a[0, 0] = (255 - value, 0, value)
    Image.fromarray(a).save(path)
    return path


def _bapps(root: Path, n: int = 3) -> Path:
    for i in range(n):
        stem = f"{i:06d}"
        _png(root / "ref" / f"{stem}.png", 100)
        _png(root / "p0" / f"{stem}.png", 110 + i)
        _png(root / "p1" / f"{stem}.png", 150 + i)
        (root / "judge").mkdir(exist_ok=True)
        np.save(root / "judge" / f"{stem}.npy", np.array([0.25 * i], np.float32))
    return root


def test_bapps_2afc_loads_items_and_judges(tmp_path):
    ds = BAPPS2AFC(_bapps(tmp_path / "2afc" / "val" / "jpeg"))
    assert len(ds) == 3
    ref, p0, p1, judge = ds[2]
    assert ref.shape == p0.shape == p1.shape == (3, 12, 16)
    assert ref.dtype == torch.float32 and 0 <= float(ref.min()) and float(ref.max()) <= 1
    assert p1[1, 5, 5].item() == pytest.approx(152 / 255)
    assert judge.item() == pytest.approx(0.5)
    assert len(set(ds.groups)) == 3


def test_bapps_tree_with_several_folders(tmp_path):
    _bapps(tmp_path / "val" / "jpeg", 2)
    _bapps(tmp_path / "val" / "cnn", 3)
    ds = BAPPS2AFC(tmp_path)
    assert len(ds) == 5
    assert any(g.startswith("val/cnn/") for g in ds.groups)


def test_bapps_missing_file_is_named(tmp_path):
    root = _bapps(tmp_path / "b")
    (root / "p1" / "000001.png").unlink()
    with pytest.raises(TwoAFCDataError, match=r"000001.*no p1|no p1.*000001"):
        BAPPS2AFC(root)


def test_bapps_bad_judge_is_named(tmp_path):
    root = _bapps(tmp_path / "b")
    np.save(root / "judge" / "000002.npy", np.array([1.5]))
    with pytest.raises(TwoAFCDataError, match=r"000002\.npy.*outside \[0, 1\]"):
        BAPPS2AFC(root)


def test_not_a_bapps_folder(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(TwoAFCDataError, match="BAPPS layout"):
        BAPPS2AFC(tmp_path / "x")


def test_jnd_layout(tmp_path):
    root = tmp_path / "jnd"
    for i, same in enumerate((0.0, 1.0)):
        _png(root / "p0" / f"{i}.png", 90)
        _png(root / "p1" / f"{i}.png", 95 + i)
        (root / "same").mkdir(exist_ok=True)
        np.save(root / "same" / f"{i}.npy", np.array([same]))
    ds = BAPPSJND(root)
    assert len(ds) == 2
    p0, p1, same = ds[1]
    assert p0.shape == (3, 12, 16) and same.item() == 1.0
    assert isinstance(open_dataset(root), BAPPSJND)
    (root / "same" / "1.npy").unlink()
    with pytest.raises(TwoAFCDataError, match="same"):
        BAPPSJND(root)


def _table(tmp_path: Path, rows, suffix=".csv") -> Path:
    for name, v in (("r.png", 100), ("a.png", 110), ("b.png", 160)):
        _png(tmp_path / "img" / name, v)
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        fields = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROW = {"ref": "img/r.png", "p0": "img/a.png", "p1": "img/b.png", "judge": "0.2"}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_triplet_table(tmp_path, suffix):
    path = _table(tmp_path, [ROW, {**ROW, "judge": "0.9", "group": "g2"}], suffix)
    ds = open_dataset(path)
    assert isinstance(ds, TripletTable) and len(ds) == 2
    assert ds[1].judge.item() == pytest.approx(0.9)
    assert ds.groups == ["img/r.png", "g2"]
    assert ds[0].p1[0, 4, 4].item() == pytest.approx(160 / 255)


def test_triplet_csv_bad_rows_are_named(tmp_path):
    path = _table(tmp_path, [ROW, {**ROW, "judge": "high"}])
    with pytest.raises(TwoAFCDataError, match=r"t\.csv row 3: judge 'high' is not a number"):
        TripletTable(path)
    path = _table(tmp_path, [ROW, ROW, {**ROW, "p0": "img/missing.png"}])
    with pytest.raises(TwoAFCDataError, match=r"row 4: image file .*missing\.png does not exist"):
        TripletTable(path)
    bad = tmp_path / "h.csv"
    bad.write_text("ref,p0,judge\nimg/r.png,img/a.png,0.5\n")
    with pytest.raises(TwoAFCDataError, match="lacks column.*p1"):
        TripletTable(bad)


def test_triplet_jsonl_bad_line_is_named(tmp_path):
    path = _table(tmp_path, [ROW], ".jsonl")
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(TwoAFCDataError, match=r"t\.jsonl line 2: not valid JSON"):
        TripletTable(path)


def _mos(tmp_path: Path, with_type=True):
    _png(tmp_path / "ref" / "r1.png", 100, (32, 32))
    _png(tmp_path / "ref" / "r2.png", 120, (32, 32))
    rows = []
    for ref, name, score, kind, size in (
        ("r1", "a", 4.0, "jpeg", (16, 16)), ("r1", "b", 3.0, "jpeg", (32, 32)),
        ("r1", "c", 1.5, "blur", (32, 32)), ("r2", "d", 2.0, "jpeg", (32, 32)),
        ("r2", "e", 2.5, "jpeg", (32, 32)),
    ):
        _png(tmp_path / "dist" / f"{name}.png", 60 + int(score * 10), size)
        row = {"ref": f"ref/{ref}.png", "dist": f"dist/{name}.png", "score": score}
        if with_type:
            row["distortion"] = kind
        rows.append(row)
    path = tmp_path / "scores.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "image_name,user1,user2,user3,mos\n"
        "a,4,5,3,4\nb,3,3,3,3\nc,1,2,,1.5\nd,2,2,2,2\ne,3,2,3,2.67\n"
    )
    return path, ratings


def test_mos_pairs_thurstone(tmp_path):
    scores, _ = _mos(tmp_path)
    ds = MOSPairs(scores, sigma=0.8)
    # r1 has 3 versions -> 3 pairs, r2 has 2 -> 1 pair
    assert len(ds) == 4
    first = ds.records[0]
    assert (first.p0.name, first.p1.name) == ("a.png", "b.png")
    assert first.judge == pytest.approx(0.5 * (1 + math.erf((3.0 - 4.0) / (0.8 * 2))))
    assert first.judge == pytest.approx(float(thurstone_prob(4.0, 3.0, 0.8)))
    # DMOS flips the preference
    flipped = MOSPairs(scores, sigma=0.8, higher_is_better=False)
    assert flipped.records[0].judge == pytest.approx(1 - first.judge)
    # the 16x16 distorted image is resized (bicubic) to its 32x32 reference
    ref, p0, p1, _ = ds[0]
    assert ref.shape == p0.shape == p1.shape == (3, 32, 32)
    assert sorted(set(ds.groups)) == ["r1", "r2"]


def test_mos_pairs_filter_and_observers(tmp_path):
    scores, ratings = _mos(tmp_path)
    ds = MOSPairs(scores, sigma=1.0, distortions=["jpeg"])
    assert len(ds) == 2  # (a, b) and (d, e)
    obs = MOSPairs(scores, judge="observers", ratings=ratings)
    judges = {(r.p0.stem, r.p1.stem): r.judge for r in obs.records}
    # a=(4,5,3) vs b=(3,3,3): b beats a for user3? tie -> 0.5; others lose -> (0+0+0.5)/3
    assert judges[("a", "b")] == pytest.approx(0.5 / 3)
    # c has user3 missing: only 2 observers compare a and c; c loses both
    assert judges[("a", "c")] == pytest.approx(0.0)
    # d=(2,2,2) vs e=(3,2,3): e wins, tie, wins
    assert judges[("d", "e")] == pytest.approx(2.5 / 3)
    # sigma estimated from the ratings (pooled within-image SD)
    est = MOSPairs(scores, ratings=ratings)
    dev = [np.array(v) for v in ([4, 5, 3], [3, 3, 3], [1, 2], [2, 2, 2], [3, 2, 3])]
    pooled = math.sqrt(sum(((d - d.mean()) ** 2).sum() for d in dev) / sum(len(d) - 1 for d in dev))
    assert est.sigma == pytest.approx(pooled)


def test_mos_pairs_bad_input(tmp_path):
    scores, ratings = _mos(tmp_path, with_type=False)
    with pytest.raises(TwoAFCDataError, match="lacks column.*distortion"):
        MOSPairs(scores, sigma=1.0, distortions=["jpeg"])
    with pytest.raises(TwoAFCDataError, match="sigma"):
        MOSPairs(scores)
    with pytest.raises(TwoAFCDataError, match="needs per-observer ratings"):
        MOSPairs(scores, judge="observers")
    ratings.write_text("image_name,user1\na,4\n")
    with pytest.raises(TwoAFCDataError, match=r"ratings\.csv: no ratings for b\.png"):
        MOSPairs(scores, judge="observers", ratings=ratings)
    text = scores.read_text().replace("3.0", "n/a", 1)
    scores.write_text(text)
    with pytest.raises(TwoAFCDataError, match=r"scores\.csv row 3: score 'n/a'"):
        MOSPairs(scores, sigma=1.0)


def test_preprocess_scale_and_center_crop(tmp_path):
    scores, _ = _mos(tmp_path)
    ds = MOSPairs(scores, sigma=1.0, preprocess=Preprocess(scale=0.5, center_crop=8, cache=True))
    ref, p0, _, _ = ds[0]
    assert ref.shape == p0.shape == (3, 8, 8)
    with pytest.raises(TwoAFCDataError, match="center_crop 40 is larger"):
        MOSPairs(scores, sigma=1.0, preprocess=Preprocess(center_crop=40))[0]
    with pytest.raises(TwoAFCDataError, match="mismatch"):
        MOSPairs(scores, sigma=1.0, preprocess=Preprocess(mismatch="error"))[0]


def test_split_by_reference_has_no_overlap():
    groups = [f"r{i % 7}" for i in range(70)]
    train, val = split_by_group(groups, 0.3, seed=1)
    assert sorted(train + val) == list(range(70))
    assert not {groups[i] for i in train} & {groups[i] for i in val}
    with pytest.raises(TwoAFCDataError):
        split_by_group(["only"] * 3)


@pytest.mark.shared
def test_avt_observer_judges_match_the_staged_pairs():
    root = SHARED / "iqa" / "avt_hevc_intra_4k"
    if not (root / "scores.csv").is_file():
        pytest.skip("shared data not present")
    ds = MOSPairs(root / "scores.csv", judge="observers",
                  ratings=root / "original_tables" / "test_1_per_user.csv")
    assert len(ds) == 180 and len(set(ds.groups)) == 4
    mine = {(r.p0.name, r.p1.name): r.judge for r in ds.records}
    with open(root / "pairs_2afc_from_ratings.csv", newline="") as f:
        for row in csv.DictReader(f):
            key = (Path(row["dist_a"]).name, Path(row["dist_b"]).name)
            assert mine[key] == pytest.approx(1 - float(row["p_a_preferred"]), abs=1e-3)
