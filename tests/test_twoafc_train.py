"""Training: a short Lightning run lowers the BCE on a tiny generated 2AFC set; the
LightningCLI command exports a metric that loads back; lin weights stay >= 0.

Uses the ``scratch`` variant (random trunk) so no ImageNet weights are needed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from twoafc.datamodule import TwoAFCDataModule, UniquePairs
from twoafc.datasets import TripletTable
from twoafc.metrics import load_metric
from twoafc.module import LPIPSTrainer

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny_set(root: Path, n_refs: int = 4, per_ref: int = 4, size: int = 64) -> Path:
    """Triplets where p0 has mild noise and p1 strong noise; people mostly prefer p0."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rows = []
    for r in range(n_refs):
        base = np.stack([np.sin(6 * xx + r), np.cos(5 * yy - r), np.sin(4 * (xx + yy))], -1)
        ref = ((base * 0.4 + 0.5) * 255).astype(np.uint8)
        Image.fromarray(ref).save(root / f"ref{r}.png")
        for k in range(per_ref):
            names = []
            for tag, sd in (("a", 6.0), ("b", 40.0)):
                noisy = np.clip(ref + rng.normal(0, sd, ref.shape), 0, 255).astype(np.uint8)
                Image.fromarray(noisy).save(root / f"d{r}_{k}{tag}.png")
                names.append(f"d{r}_{k}{tag}.png")
            flip = k % 2 == 1  # half the triplets put the strong noise first
            p0, p1 = (names[1], names[0]) if flip else names
            rows.append({"ref": f"ref{r}.png", "p0": p0, "p1": p1,
                         "judge": 0.9 if flip else 0.1, "group": f"ref{r}"})
    path = root / "triplets.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _mean_bce(module: LPIPSTrainer, ds: TripletTable) -> float:
    module.eval()
    with torch.no_grad():
        batch = [ds[i] for i in range(len(ds))]
        ref, p0, p1, judge = (torch.stack(t) for t in zip(*batch, strict=True))
        d0, d1 = module(ref, p0), module(ref, p1)
        return float(module._bce(d0, d1, judge))


def test_short_training_lowers_the_loss_and_keeps_lin_positive(tmp_path):
    pl.seed_everything(0)
    ds = TripletTable(_tiny_set(tmp_path, n_refs=3, per_ref=4, size=32))
    module = LPIPSTrainer(net="alex", variant="scratch", lin_init="random", lr=3e-3)
    before = _mean_bce(module, ds)
    dm = TwoAFCDataModule(ds, val_references=["ref2"], batch_size=4, crop=None, flip=False)
    trainer = pl.Trainer(
        max_epochs=25, check_val_every_n_epoch=25, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )
    trainer.fit(module, dm)
    after = _mean_bce(module, ds)
    assert after < before - 0.05, (before, after)
    assert "val_2afc" in trainer.callback_metrics
    assert all(float(p.detach().min()) >= 0 for p in module.metric.lins.parameters())
    # no reference is in both splits
    assert not set(dm.train_set.groups) & set(dm.val_set.groups)


def test_unique_pairs_index_triplets(tmp_path):
    ds = TripletTable(_tiny_set(tmp_path, n_refs=1, per_ref=3))
    pairs = UniquePairs(ds)
    assert len(pairs) == 6 and pairs.triplet_pairs.shape == (3, 2)
    ref, image, index = pairs[int(pairs.triplet_pairs[1, 1])]
    assert torch.equal(ref, ds[1].ref) and torch.equal(image, ds[1].p1)


def test_cli_config_trains_and_exports(tmp_path, capsys):
    from twoafc.commands import train

    data = _tiny_set(tmp_path, n_refs=2, per_ref=2, size=48)
    out = tmp_path / "run"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"""
seed_everything: 1
model: {{net: alex, variant: scratch, lin_init: random, lr: 0.001}}
data:
  dataset:
    class_path: twoafc.datasets.TripletTable
    init_args: {{path: {data}}}
  val_references: [ref1]
  batch_size: 2
  crop: 40
trainer:
  max_epochs: 1
  accelerator: cpu
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  default_root_dir: {out}
  callbacks:
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args: {{monitor: val_2afc, mode: max, dirpath: {out}/ckpt}}
    - class_path: twoafc.callbacks.ExportMetric
      init_args: {{path: {out}/metric.pt}}
"""
    )
    assert train.main(["--config", str(config)]) == 0
    info = json.loads((out / "metric.pt.json").read_text())
    assert info["monitor"] == "val_2afc" and "best_epoch" in info
    metric = load_metric(out / "metric.pt")
    x = torch.rand(1, 3, 48, 48)
    d = metric(x, (x + 0.2).clamp(0, 1))
    assert d.shape == (1,) and float(d) > float(metric(x, x))
    # the Lightning checkpoint loads too, with identical distances
    ckpt = next((out / "ckpt").glob("*.ckpt"))
    y = torch.rand(1, 3, 48, 48)
    assert float(load_metric(ckpt)(x, y)) == pytest.approx(float(metric(x, y)), rel=1e-2)


@pytest.mark.parametrize(
    "config", sorted((Path(__file__).resolve().parents[1] / "twoafc" / "configs").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_shipped_configs_parse(config, capsys):
    from twoafc.commands import train

    with pytest.raises(SystemExit) as exit_info:
        train.main(["--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "class_path: twoafc.datasets." in printed and "variant:" in printed
