"""Lightning training of the codec: the loss goes down; DDP on 2 CPU processes runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from skimage import data as skdata

from perceptual_codec.core.errors import UserFacingError
from perceptual_codec.data import ImageFolderDataModule
from perceptual_codec.lightning_codec import LitCodec
from perceptual_codec.losses import RateDistortionLoss, msssim_per_image, saliency_weights
from perceptual_codec.models import SaliencyMeanScaleHyperprior
from perceptual_codec.models.hyperprior import interpolate_log_gains

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("imgs")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        Image.fromarray(getattr(skdata, name)()).save(d / f"{name}.png")
    return d


def test_datamodule_batches(image_dir):
    dm = ImageFolderDataModule(str(image_dir), crop_size=64, batch_size=2, num_workers=0,
                               saliency="classic", val_fraction=0.3)
    dm.setup()
    assert len(dm.train_set) + len(dm.val_set) == 4 and len(dm.train_set) >= 1
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (2, 3, 64, 64) and batch["saliency"].shape == (2, 1, 64, 64)
    assert 0 <= batch["saliency"].min() and batch["saliency"].max() <= 1


def test_datamodule_learned_saliency_maps_are_cached(image_dir, tmp_path):
    cache = tmp_path / "maps"
    dm = ImageFolderDataModule(str(image_dir), crop_size=64, batch_size=2, num_workers=0,
                               saliency="learned", saliency_model="center",
                               saliency_cache=str(cache), val_fraction=0.3)
    dm.setup()
    stored = sorted(cache.rglob("*.npy"))
    assert len(stored) == 4
    stamps = [p.stat().st_mtime_ns for p in stored]
    batch = next(iter(dm.train_dataloader()))
    assert batch["saliency"].shape == (2, 1, 64, 64)
    # the centre prior peaks mid-image: a centre crop of the map is brighter than its corner
    full = np.load(stored[0])
    h, w = full.shape
    assert full[h // 2, w // 2] > full[0, 0]
    dm.setup()  # second run reuses the stored maps
    assert [p.stat().st_mtime_ns for p in sorted(cache.rglob("*.npy"))] == stamps
    with pytest.raises(UserFacingError, match="saliency must be one of"):
        ImageFolderDataModule(str(image_dir), saliency="fixations")


def test_interpolate_log_gains_between_and_beyond_the_ladder():
    g = torch.tensor([[0.0, 1.0], [1.0, 3.0], [3.0, 3.0]])
    src = torch.tensor([0.001, 0.01, 0.1])
    assert torch.allclose(interpolate_log_gains(g, src, src), g)
    mid = interpolate_log_gains(g, src, torch.tensor([0.001 * 10**0.5, 0.01 * 10**0.5]))
    assert torch.allclose(mid, torch.tensor([[0.5, 2.0], [2.0, 3.0]]), atol=1e-6)
    below = interpolate_log_gains(g, src, torch.tensor([0.0001]))  # extends the first pair
    assert torch.allclose(below, torch.tensor([[-1.0, -1.0]]), atol=1e-6)
    with pytest.raises(ValueError, match="increase"):
        interpolate_log_gains(g, src.flip(0), src)


def test_init_from_moves_a_model_to_a_new_ladder(tmp_path):
    torch.manual_seed(0)
    src_model = SaliencyMeanScaleHyperprior(N=8, M=12, num_qualities=3)
    src_loss = RateDistortionLoss(lmbdas=[0.001, 0.01, 0.1])
    src = LitCodec(src_model, src_loss)
    ckpt = tmp_path / "src.ckpt"
    torch.save({"state_dict": src.state_dict(), "codec_config": src_model.config()}, ckpt)
    new = LitCodec(SaliencyMeanScaleHyperprior(N=8, M=12, num_qualities=2),
                   RateDistortionLoss(lmbdas=[0.001, 0.1]), init_from=str(ckpt))
    assert torch.equal(new.model.g_s[0].weight, src_model.g_s[0].weight)
    assert torch.allclose(new.model.log_gain, src_model.log_gain[[0, 2]])
    same = LitCodec(SaliencyMeanScaleHyperprior(N=8, M=12, num_qualities=3),
                    RateDistortionLoss(lmbdas=[0.001, 0.01, 0.1]), init_from=str(ckpt))
    assert torch.equal(same.model.log_inv_gain, src_model.log_inv_gain)
    with pytest.raises(UserFacingError, match="was trained as"):
        LitCodec(SaliencyMeanScaleHyperprior(N=16, M=12, num_qualities=3), src_loss,
                 init_from=str(ckpt))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserFacingError, match="cannot read"):
        LitCodec(src_model, src_loss, init_from=str(bad))


def test_loss_terms_and_weighting():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    s = torch.zeros(2, 1, 64, 64)
    s[:, :, :32] = 1
    w = saliency_weights(s, x.shape, k=3.0)
    assert torch.allclose(w.mean(dim=(1, 2, 3)), torch.ones(2))
    assert w[:, :, :32].mean() > w[:, :, 32:].mean()
    assert saliency_weights(None, x.shape, 3.0) is None
    # error only in the salient half costs more with weighting than without
    x_hat = x.clone()
    x_hat[:, :, :32] += 0.1
    out = {"x_hat": x_hat, "likelihoods": {"y": torch.full((2, 4, 4, 4), 0.5)}}
    q = torch.tensor([1, 1])
    plain = RateDistortionLoss(lmbdas=[0.01])(out, x, q, s)
    weighted = RateDistortionLoss(lmbdas=[0.01], saliency_k=3.0)(out, x, q, s)
    assert weighted["wmse"] > plain["wmse"] * 1.5
    assert torch.isclose(plain["bpp"], torch.tensor(64 * 1.0 / (64 * 64)))
    assert msssim_per_image(x, x).allclose(torch.ones(2))
    spatial = RateDistortionLoss(lmbdas=[0.01], lpips_weight=1.0,
                                 metric=_AbsMap())(out, x, q, s)
    assert spatial["lpips"] > 0


class _AbsMap(torch.nn.Module):
    """A stand-in spatial metric (mean absolute difference map)."""

    def forward(self, a, b):
        return (a - b).abs().mean(dim=1, keepdim=True)


def _fixed_batch(image_dir) -> dict:
    dm = ImageFolderDataModule(str(image_dir), crop_size=64, batch_size=4, num_workers=0,
                               saliency="classic", val_fraction=0.0)
    dm.setup()
    return {k: torch.stack([dm.val_set.__class__(dm.train_set.files, 64, False,
                                                  "classic")[i][k] for i in range(4)])
            for k in ("image", "saliency")}


def _eval_loss(lit: LitCodec, batch: dict) -> float:
    lit.eval()
    with torch.no_grad():
        q = torch.tensor([1, 2, 3, 2])
        out = lit.model(batch["image"], batch["saliency"], q)
        return float(lit.loss(out, batch["image"], q, batch["saliency"])["loss"])


def test_short_training_lowers_loss(image_dir, tmp_path):
    pl.seed_everything(0)
    model = SaliencyMeanScaleHyperprior(N=16, M=24, num_qualities=3)
    loss = RateDistortionLoss(lmbdas=[0.005, 0.01, 0.02], msssim_weight=100.0, saliency_k=2.0)
    lit = LitCodec(model, loss, lr=3e-3, saliency_dropout=0.2)
    dm = ImageFolderDataModule(str(image_dir), crop_size=64, batch_size=4, num_workers=0,
                               saliency="classic", val_fraction=0.0)
    batch = _fixed_batch(image_dir)
    before = _eval_loss(lit, batch)
    lit.train()  # Lightning keeps module modes as it finds them
    trainer = pl.Trainer(max_steps=40, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0,
                         default_root_dir=str(tmp_path))
    trainer.fit(lit, datamodule=dm)
    assert trainer.global_step == 40  # one step per batch despite two optimisers
    after = _eval_loss(lit, batch)
    assert after < 0.8 * before, (before, after)


def _tiny_config(tmp_path: Path, image_dir: Path) -> Path:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(f"""
seed_everything: 0
trainer:
  accelerator: cpu
  max_steps: 3
  limit_val_batches: 1
  check_val_every_n_epoch: 1
  enable_model_summary: false
model:
  model:
    class_path: perceptual_codec.models.SaliencyMeanScaleHyperprior
    init_args: {{N: 8, M: 12, num_qualities: 2}}
  loss:
    class_path: perceptual_codec.losses.RateDistortionLoss
    init_args: {{lmbdas: [0.01, 0.02], saliency_k: 2.0}}
  lr: 1.0e-3
data:
  train_dirs: {image_dir}
  crop_size: 64
  batch_size: 2
  num_workers: 0
  val_fraction: 0.3
  saliency: classic
""")
    return cfg


def _run_cli(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "perceptual_codec.commands.train_codec", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_cli_fit_resume_and_export(image_dir, tmp_path):
    cfg = _tiny_config(tmp_path, image_dir)
    run = tmp_path / "run"
    common = ["fit", "--config", str(cfg), "--run_dir", str(run), "--ckpt_path", "last",
              "--ckpt_every", "1"]
    r = _run_cli(common, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (run / "checkpoints" / "last.ckpt").is_file()
    # Resume with another --ckpt_every (and the run dir named relative to the repo): Lightning
    # then drops the callback's saved state, and must still overwrite last.ckpt, not start a
    # versioned last-v1.ckpt beside a stale one.
    resumed = [*common, "--trainer.max_steps", "6"]
    resumed[resumed.index(str(run))] = os.path.relpath(run, REPO)
    resumed[resumed.index("--ckpt_every") + 1] = "2"
    r = _run_cli(resumed, timeout=300)  # resumes at step 3
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 6
    assert not list((run / "checkpoints").glob("last-v*.ckpt"))
    from perceptual_codec import api, zoo
    from perceptual_codec.commands.train_codec import main as train_main

    assert train_main(["export", str(run / "checkpoints" / "last.ckpt"), "-o",
                       str(tmp_path / "w.pt")]) == 0

    m = zoo.load_weights_file(tmp_path / "w.pt")
    img = np.ascontiguousarray(skdata.coffee()[:64, :96])
    assert api.decompress(api.compress(img, model=m, quality=2), model=m).shape == img.shape

    # a second stage on another lambda ladder, started from the first run's weights
    stage2 = ["fit", "--config", str(cfg), "--run_dir", str(tmp_path / "stage2"),
              "--model.init_from", str(run / "checkpoints" / "last.ckpt"),
              "--model.loss.init_args.lmbdas", "[0.005, 0.04]", "--trainer.max_steps", "1",
              "--trainer.limit_val_batches", "0"]
    r = _run_cli(stage2, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt2 = torch.load(tmp_path / "stage2" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt2["global_step"] == 1
    assert ckpt2["state_dict"]["loss.lmbdas"].tolist() == pytest.approx([0.005, 0.04])


@pytest.mark.slow
def test_ddp_two_cpu_processes(image_dir, tmp_path):
    cfg = _tiny_config(tmp_path, image_dir)
    r = _run_cli(["fit", "--config", str(cfg), "--run_dir", str(tmp_path / "ddp"),
                  "--trainer.strategy", "ddp", "--trainer.devices", "2",
                  "--trainer.max_steps", "2"], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = torch.load(tmp_path / "ddp" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2


@pytest.mark.parametrize(
    "config", sorted((REPO / "perceptual_codec" / "configs").glob("codec_*.yaml")),
    ids=lambda p: p.name,
)
def test_shipped_codec_configs_parse(config, capsys):
    from perceptual_codec.commands.train_codec import main as train_main

    with pytest.raises(SystemExit) as exit_info:
        train_main(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "class_path: perceptual_codec.models.SaliencyMeanScaleHyperprior" in printed
    assert "lmbdas:" in printed
