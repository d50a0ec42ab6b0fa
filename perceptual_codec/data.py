"""LightningDataModule over folders of images with random crops (optionally with saliency).

Batches are dicts: ``{"image": (N,3,C,C) float in [0,1]}`` plus ``"saliency": (N,1,C,C)``
when a saliency source is configured. Maps are whole-image maps cut with the same crop (so
a crop sees the image-level saliency): the classic map is computed per item, which is cheap
enough for CPU workers; the learned model's maps are precomputed once per file
(:mod:`perceptual_codec.saliency_cache`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from perceptual_codec.core.errors import UserFacingError

SALIENCY_SOURCES = ("none", "classic", "learned")
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm"}


def list_images(dirs: str | Path | Sequence[str | Path]) -> list[Path]:
    """All image files under ``dirs`` (recursive), sorted for reproducibility."""
    if isinstance(dirs, str | Path):
        dirs = [dirs]
    files: list[Path] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise UserFacingError(f"image folder not found: {d}")
        files += [p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(set(files))


def _held_out(path: Path, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{path.name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def load_rgb(path: Path) -> np.ndarray:
    """A training image as ``HxWx3`` uint8 RGB (also what its stored saliency map is made of)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


class RandomCropDataset(Dataset):
    """Image files -> crops of ``crop_size`` (random + flip when ``train``, centre otherwise)."""

    def __init__(
        self, files: Sequence[Path], crop_size: int, train: bool = True, saliency: str = "none",
        map_files: Sequence[Path] | None = None,
    ) -> None:
        if saliency not in SALIENCY_SOURCES:
            raise ValueError(f"saliency must be one of {SALIENCY_SOURCES}, got {saliency!r}")
        if saliency == "learned" and (map_files is None or len(map_files) != len(files)):
            raise ValueError("saliency='learned' needs one precomputed map file per image")
        self.files, self.crop_size, self.train, self.saliency = list(files), crop_size, train, saliency
        self.map_files = list(map_files) if map_files is not None else None

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        img = load_rgb(self.files[index])
        sal = None
        if self.saliency == "classic":
            from perceptual_codec.models.saliency_maps import classic_saliency

            sal = classic_saliency(img)
        elif self.saliency == "learned":
            from perceptual_codec.saliency_cache import load_map

            sal = load_map(self.map_files[index])
            if sal.shape != img.shape[:2]:
                raise UserFacingError(f"stored saliency map of {self.files[index]} has shape "
                                      f"{sal.shape}, the image {img.shape[:2]}")
        c = self.crop_size
        h, w = img.shape[:2]
        if h < c or w < c:  # reflect-pad small images up to the crop size
            ph, pw = max(0, c - h), max(0, c - w)
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect")
            sal = None if sal is None else np.pad(sal, ((0, ph), (0, pw)), mode="reflect")
            h, w = img.shape[:2]
        if self.train:
            top = int(torch.randint(0, h - c + 1, ()).item())
            left = int(torch.randint(0, w - c + 1, ()).item())
        else:
            top, left = (h - c) // 2, (w - c) // 2
        img = img[top : top + c, left : left + c]
        flip = self.train and bool(torch.rand(()) < 0.5)
        if flip:
            img = img[:, ::-1]
        out = {"image": torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255}
        if sal is not None:
            sal = sal[top : top + c, left : left + c]
            if flip:
                sal = sal[:, ::-1]
            out["saliency"] = torch.from_numpy(np.ascontiguousarray(sal))[None].float()
        return out


class ImageFolderDataModule(pl.LightningDataModule):
    """Train/val crops from image folders.

    Args:
        train_dirs: folder(s) of training images (searched recursively).
        val_dirs: folder(s) of validation images; if omitted, ``val_fraction`` of the training
            files (chosen by a hash of the file name, so stable) is held out.
        crop_size: side of the square crops.
        saliency: map added to each batch: ``"none"``, ``"classic"`` (spectral residual) or
            ``"learned"`` (the saliency package's model, as ``--saliency auto`` uses when
            encoding; precomputed once per file into ``saliency_cache``).
        saliency_model: model name or weights path for ``"learned"``.
        saliency_cache: folder of the precomputed maps (default: the user cache folder).
    """

    def __init__(
        self,
        train_dirs: str | list[str],
        val_dirs: str | list[str] | None = None,
        crop_size: int = 256,
        batch_size: int = 8,
        num_workers: int = 2,
        val_fraction: float = 0.05,
        val_batch_size: int | None = None,
        saliency: str = "none",
        saliency_model: str = "saliency",
        saliency_cache: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train_dirs, self.val_dirs = train_dirs, val_dirs
        self.crop_size, self.batch_size, self.num_workers = crop_size, batch_size, num_workers
        if saliency not in SALIENCY_SOURCES:
            raise UserFacingError(f"saliency must be one of {SALIENCY_SOURCES}, got {saliency!r}")
        self.val_fraction, self.saliency, self.seed = val_fraction, saliency, seed
        self.saliency_model, self.saliency_cache = saliency_model, saliency_cache
        self.val_batch_size = val_batch_size or batch_size
        self.train_set: RandomCropDataset | None = None
        self.val_set: RandomCropDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        files = list_images(self.train_dirs)
        if self.val_dirs is not None:
            train_files, val_files = files, list_images(self.val_dirs)
        else:
            val_files = [p for p in files if _held_out(p, self.val_fraction, self.seed)]
            train_files = [p for p in files if p not in set(val_files)]
        if not train_files:
            raise UserFacingError(f"no training images found in {self.train_dirs}")
        train_maps = val_maps = None
        if self.saliency == "learned":
            from perceptual_codec.saliency_cache import precompute_maps

            maps = precompute_maps([*train_files, *val_files], self.saliency_cache,
                                   self.saliency_model)
            train_maps, val_maps = maps[: len(train_files)], maps[len(train_files):]
        self.train_set = RandomCropDataset(train_files, self.crop_size, True, self.saliency,
                                           train_maps)
        self.val_set = RandomCropDataset(val_files, self.crop_size, False, self.saliency, val_maps)

    def _loader(self, ds: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            drop_last=shuffle,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup() first"
        return self._loader(self.train_set, self.batch_size, True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "call setup() first"
        return self._loader(self.val_set, self.val_batch_size, False)
