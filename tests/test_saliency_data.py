"""Fixation data layouts, the split by image, the DataModule, a real (tiny) Lightning run of
``pcodec train saliency`` with export, and ``pcodec eval saliency`` on generated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.data import (
    FixationDataset,
    SaliencyDataError,
    SizeBatchSampler,
    discover,
    points_to_map,
    split_by_image,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "saliency"


pytestmark = pytest.mark.usefixtures("one_thread")


def _make_dataset(root: Path, n: int = 12, layout: str = "nus") -> Path:
    """Images with a bright square; fixations on it; density = blurred fixations."""
    rng = np.random.default_rng(1)
    dirs = {"nus": ("stimuli", "fixation_maps", "fixation_points"),
            "mit": ("ALLSTIMULI", "ALLFIXATIONMAPS", "ALLFIXATIONMAPS")}[layout]
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        h, w = ((48, 64), (64, 48), (40, 40))[i % 3]
        img = rng.integers(60, 90, (h, w, 3), dtype=np.uint8)
        cy, cx = int(rng.integers(8, h - 8)), int(rng.integers(8, w - 8))
        img[cy - 4 : cy + 4, cx - 4 : cx + 4] = (250, 240, 30)
        pts = np.zeros((h, w), np.uint8)
        for _ in range(6):
            pts[cy + rng.integers(-3, 4), cx + rng.integers(-3, 4)] = 255
        yy, xx = np.mgrid[:h, :w]
        dens = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0**2))
        name = f"{i:03d}"
        if layout == "nus":
            Image.fromarray(img).save(root / dirs[0] / f"{name}.jpg", quality=95)
            Image.fromarray((dens * 255).astype(np.uint8)).save(root / dirs[1] / f"{name}.png")
            Image.fromarray(pts).save(root / dirs[2] / f"{name}.png")
        else:
            Image.fromarray(img).save(root / dirs[0] / f"i{name}.jpeg", quality=95)
            Image.fromarray((dens * 255).astype(np.uint8)).save(
                root / dirs[1] / f"i{name}_fixMap.jpg")
            Image.fromarray(pts).save(root / dirs[1] / f"i{name}_fixPts.png")
    return root


def test_discover_layouts(tmp_path):
    nus = discover(_make_dataset(tmp_path / "nus", 4))
    assert [r.key for r in nus] == ["000", "001", "002", "003"]
    assert all(r.points is not None and r.points.parent.name == "fixation_points" for r in nus)
    mit = discover(_make_dataset(tmp_path / "mit", 3, layout="mit"))
    assert [r.key for r in mit] == ["i000", "i001", "i002"]
    assert all(r.density.stem.endswith("_fixMap") and r.points.stem.endswith("_fixPts")
               for r in mit)
    with pytest.raises(SaliencyDataError, match="not a fixation data set"):
        discover(tmp_path)
    with pytest.raises(SaliencyDataError, match="not found"):
        discover(tmp_path / "missing")


def test_split_is_fixed_disjoint_and_complete():
    keys = [f"{i:03d}" for i in range(50)]
    a = split_by_image(keys, test_size=10, val_size=5, seed=0)
    b = split_by_image(list(reversed(keys)), test_size=10, val_size=5, seed=0)
    assert a == b  # order of discovery does not matter
    assert (len(a["test"]), len(a["val"]), len(a["train"])) == (10, 5, 35)
    assert set(a["test"]).isdisjoint(a["train"]) and set(a["val"]).isdisjoint(a["train"])
    assert sorted(a["train"] + a["val"] + a["test"]) == keys
    assert split_by_image(keys, 10, 5, seed=1)["test"] != a["test"]
    with pytest.raises(SaliencyDataError, match="cannot hold out"):
        split_by_image(keys[:5], test_size=4, val_size=1)


def test_points_to_map_rescales():
    pts = np.array([[0, 0], [9, 19], [5, 10]])
    m = points_to_map(pts, (10, 20), (5, 10))
    assert m.sum() == 3 and m[0, 0] == 1 and m[4, 9] == 1 and m[2, 5] == 1


def test_dataset_samples_and_size_batches(tmp_path):
    records = discover(_make_dataset(tmp_path / "d", 6))
    ds = FixationDataset(records, area=32 * 64, hflip=True)
    s = ds[0]
    h, w = ds.sizes[0]
    assert s["image"].shape == (3, h, w) and s["density"].shape == (1, h, w)
    assert s["fixations"].sum() > 0 and float(s["density"].max()) == pytest.approx(1.0)
    assert set(ds.sizes) == {(32, 64), (64, 32), (32, 32)}  # aspect kept, multiples of 32
    sampler = SizeBatchSampler(ds.sizes, batch_size=4, shuffle=True)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(len({ds.sizes[i] for i in b}) == 1 for b in batches)


def _write_config(path: Path, data_dir: Path, run_dir: Path) -> None:
    path.write_text(f"""
seed_everything: 0
trainer:
  accelerator: cpu
  devices: 1
  max_epochs: 2
  limit_train_batches: 2
  default_root_dir: {run_dir}
  enable_progress_bar: false
  enable_model_summary: false
  logger: false
  callbacks:
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args:
        dirpath: {run_dir}/checkpoints
        filename: best
        monitor: val/cc
        mode: max
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args:
        dirpath: {run_dir}/checkpoints
        filename: last
model:
  net:
    class_path: saliency.net.SaliencyNet
    init_args:
      decoder_channels: 8
      prior_maps: 2
      pretrained: false
      frozen_blocks: 11
data:
  data_dir: {data_dir}
  area: 1024
  batch_size: 4
  test_size: 3
  val_size: 2
""")


@pytest.mark.slow
def test_train_command_resumes_and_exports(tmp_path):
    from perceptual_codec.cli import main
    from saliency.learned import LearnedSaliency
    from saliency.zoo import load_model

    data = _make_dataset(tmp_path / "data", 12)
    run = tmp_path / "run"
    cfg = tmp_path / "cfg.yaml"
    _write_config(cfg, data, run)
    out = tmp_path / "w.pt"
    assert main(["train", "saliency", "--config", str(cfg), "--export_to", str(out)]) == 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
    split = (run / "split.json").read_text()
    assert '"test"' in split
    model = load_model(out)
    assert isinstance(model, LearnedSaliency) and model.meta["epoch"] >= 0
    assert len(model.meta["test_keys"]) == 3
    assert model.predict(np.zeros((20, 30, 3), np.uint8)).shape == (20, 30)
    # last.ckpt is the final epoch; re-running the same command resumes from it (and so
    # trains no further), one more epoch adds exactly one epoch of steps
    last = run / "checkpoints" / "last.ckpt"
    before = torch.load(last, weights_only=True)["global_step"]
    assert before == 4  # 2 epochs x 2 batches
    assert main(["train", "saliency", "--config", str(cfg)]) == 0
    assert torch.load(last, weights_only=True)["global_step"] == before
    assert main(["train", "saliency", "--config", str(cfg), "--trainer.max_epochs", "3"]) == 0
    assert torch.load(last, weights_only=True)["global_step"] == before + 2


def test_frozen_feature_cache_changes_nothing(tmp_path):
    from saliency.datamodule import SaliencyDataModule
    from saliency.net import SaliencyNet
    from saliency.training import SaliencyTraining

    dm = SaliencyDataModule(str(_make_dataset(tmp_path / "d", 8)), area=1024, batch_size=4,
                            test_size=2, val_size=2, hflip=False)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    torch.manual_seed(0)
    net = SaliencyNet(decoder_channels=8, prior_maps=2, pretrained=False, frozen_blocks=11)
    cached = SaliencyTraining(net, cache_frozen=True).eval()
    plain = SaliencyTraining(net, cache_frozen=False).eval()
    a = cached._logits(batch)
    b = cached._logits(batch)  # second call comes from the cache
    c = plain._logits(batch)
    assert len(cached._frozen_cache) == len(batch["key"])
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_eval_command_writes_tables(tmp_path, capsys):
    from perceptual_codec.cli import main

    data = _make_dataset(tmp_path / "data", 10)
    out = tmp_path / "ev" / "res"
    rc = main(["eval", "saliency", "--data", str(data), "--models", "center,classic-mix",
               "--split", "all", "--n-splits", "5", "-o", str(out)])
    assert rc == 0
    import pandas as pd

    summary = pd.read_csv(out.with_name("res.csv"), index_col=0)
    assert list(summary.index) == ["center", "classic-mix"]
    assert set(summary.columns) == {"auc_judd", "sauc", "nss", "cc", "kld", "sim"}
    per_image = pd.read_csv(out.with_name("res_per_image.csv"))
    assert len(per_image) == 20
    # the bright square is where people look: the image-driven mix must beat the
    # content-blind centre prior on every metric that sees content
    assert summary.loc["classic-mix", "cc"] > summary.loc["center", "cc"]
    assert summary.loc["classic-mix", "sauc"] > summary.loc["center", "sauc"]
    md = out.with_name("res.md").read_text()
    assert "| center |" in md and "Bylinskii" in md
    assert main(["eval", "saliency", "--data", str(tmp_path / "nope"), "-o", str(out)]) == 1


@pytest.mark.shared
def test_shipped_model_beats_centre_prior_on_held_out_images(tmp_path):
    from saliency.zoo import SHIPPED_WEIGHTS

    if not SHARED.is_dir():
        pytest.skip(f"shared data not present: {SHARED}")
    if not SHIPPED_WEIGHTS.is_file():
        pytest.skip("shipped weights not present")
    from perceptual_codec.cli import main

    out = tmp_path / "res"
    assert main(["eval", "saliency", "--data", str(SHARED), "--models", "saliency,center",
                 "--max-side", "256", "--n-splits", "5", "-o", str(out)]) == 0
    import pandas as pd

    s = pd.read_csv(out.with_name("res.csv"), index_col=0)
    assert s.loc["saliency", "cc"] > s.loc["center", "cc"]
    assert s.loc["saliency", "nss"] > s.loc["center", "nss"]
