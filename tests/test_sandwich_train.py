"""``pcodec train sandwich``: a tiny real LightningCLI run, export, and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

skdata = pytest.importorskip("skimage.data")

CONFIG = """
seed_everything: 0
trainer:
  accelerator: cpu
  max_steps: {steps}
  default_root_dir: {root}
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  limit_val_batches: 1
  val_check_interval: 2
  check_val_every_n_epoch: null
  num_sanity_val_steps: 0
  callbacks:
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args: {{dirpath: {root}/ckpt, save_last: true, every_n_train_steps: 1, save_top_k: 0}}
model:
  codec:
    class_path: perceptual_codec.sandwich.proxies.JpegProxy
    init_args: {{qualities: [10, 50]}}
  distortion:
    class_path: perceptual_codec.sandwich.losses.MSEDistortion
  pre_channels: [4, 8]
  post_channels: [4, 8]
  lr: 0.01
data:
  train_dirs: {images}
  val_dirs: {images}
  crop_size: 32
  batch_size: 2
  num_workers: 0
"""


@pytest.mark.slow
def test_train_export_resume(tmp_path):
    from perceptual_codec.commands.train_sandwich import main
    from perceptual_codec.sandwich.export import load_weights

    images = tmp_path / "images"
    images.mkdir()
    for i, a in enumerate((skdata.astronaut(), skdata.chelsea(), skdata.coffee())):
        Image.fromarray(np.ascontiguousarray(a[::4, ::4])).save(images / f"{i}.png")
    root = tmp_path / "run"
    cfg = tmp_path / "cfg.yaml"
    for steps in (2, 3):
        cfg.write_text(CONFIG.format(steps=steps, root=root, images=images))
        assert main(["--config", str(cfg), "--threads", "1"]) == 0
        blob = torch.load(root / "export.pt", weights_only=True)
        assert blob["extra"]["global_step"] == steps  # the second run resumed from last.ckpt
    model, blob = load_weights(root / "export.pt")
    assert model.levels == 2 and len(blob["extra"]["rd_lambda"]) == 2
    assert all(v > 0 for v in blob["extra"]["rd_lambda"])  # measured plain-JPEG slopes
    assert float(model.post.alpha) != 0.0  # training moved away from the bypass


def test_publish_copies_each_configs_export(tmp_path, monkeypatch, capsys):
    from perceptual_codec.sandwich import publish

    run = tmp_path / "runs" / "jpeg_x"
    run.mkdir(parents=True)
    (run / "export.pt").write_bytes(b"weights")
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "sandwich_jpeg.yaml").write_text(f"trainer:\n  default_root_dir: {run}\n")
    (configs / "sandwich_avif.yaml").write_text(f"trainer:\n  default_root_dir: {tmp_path / 'none'}\n")
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setattr(publish, "CONFIG_DIR", configs)
    monkeypatch.setattr(publish, "WEIGHTS_DIR", weights)
    assert publish.main(["sandwich-jpeg", "sandwich-avif"]) == 0
    assert (weights / publish.MODELS["sandwich-jpeg"].file).read_bytes() == b"weights"
    out = capsys.readouterr().out
    assert "sandwich-avif: no" in out and "skipped" in out
    with pytest.raises(SystemExit):
        publish.main(["sandwich-nope"])


def test_shipped_sandwich_configs_name_their_run_folders():
    from perceptual_codec.sandwich import publish

    dirs = {publish.run_dir(publish.CONFIG_DIR / c) for c in publish.CONFIGS.values()}
    assert len(dirs) == len(publish.CONFIGS)  # no two models share a run folder
