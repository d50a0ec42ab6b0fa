"""LightningDataModule for 2AFC training: train/val split by reference image, crops, and a
validation set of unique (reference, image) pairs.

Validation scores whole images, so each distinct (reference, distorted image) pair is
measured once per epoch and the 2AFC score of every triplet is assembled from those
distances (a reference with 10 distorted versions gives 45 triplets but only 10 pairs).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from .datasets import Preprocess, Triplet, TwoAFCDataError, TwoAFCDataset, split_by_group


class PairItem(NamedTuple):
    ref: torch.Tensor
    image: torch.Tensor
    index: torch.Tensor


class CroppedTriplets(Dataset):
    """Random crops (same window in ref, p0, p1) of each triplet, ``repeats`` per epoch."""

    def __init__(self, base: TwoAFCDataset, size: int | None, repeats: int = 1, flip: bool = True):
        self.base, self.size, self.repeats, self.flip = base, size, max(1, repeats), flip

    def __len__(self) -> int:
        return len(self.base) * self.repeats

    def __getitem__(self, index: int) -> Triplet:
        t = self.base[index % len(self.base)]
        ref, p0, p1 = t.ref, t.p0, t.p1
        if self.size is not None:
            h, w = ref.shape[-2:]
            if h < self.size or w < self.size:
                raise TwoAFCDataError(
                    f"crop {self.size} is larger than an image of the data set ({w}x{h})"
                )
            top = random.randint(0, h - self.size)
            left = random.randint(0, w - self.size)
            window = (slice(None), slice(top, top + self.size), slice(left, left + self.size))
            ref, p0, p1 = ref[window], p0[window], p1[window]
        if self.flip and random.random() < 0.5:
            ref, p0, p1 = ref.flip(-1), p0.flip(-1), p1.flip(-1)
        return Triplet(ref.contiguous(), p0.contiguous(), p1.contiguous(), t.judge)


class UniquePairs(Dataset):
    """The distinct (ref, image) pairs of a triplet data set and, per triplet, which two."""

    def __init__(self, base: TwoAFCDataset):
        self.base = base
        index: dict[tuple[str, str], int] = {}
        self.pairs: list[tuple] = []
        rows = []
        for r in base.records:
            ids = []
            for img in (r.p0, r.p1):
                key = (str(r.ref), str(img))
                if key not in index:
                    index[key] = len(self.pairs)
                    self.pairs.append((r.ref, img))
                ids.append(index[key])
            rows.append(ids)
        self.triplet_pairs = torch.tensor(rows, dtype=torch.long)
        self.judge = torch.tensor([r.judge for r in base.records], dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> PairItem:
        ref, img = self.pairs[index]
        pre = self.base.preprocess
        return PairItem(pre.load(ref), pre.load(img, like=ref), torch.tensor(index))


class TwoAFCDataModule(pl.LightningDataModule):
    """Train on crops, validate on whole images of held-out references.

    The validation references are ``val_references`` (by group name), or else a random
    ``val_fraction`` of the references (``split_seed``), or a separate ``val_dataset``.
    With none of them there is no validation (train on everything for a fixed number of
    epochs, e.g. the count chosen by leave-one-reference-out). ``val_preprocess`` decodes
    the validation images differently from training (e.g. a documented centre crop).
    """

    def __init__(
        self,
        dataset: TwoAFCDataset,
        val_dataset: TwoAFCDataset | None = None,
        val_preprocess: Preprocess | None = None,
        val_references: Sequence[str] | None = None,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        batch_size: int = 8,
        crop: int | None = 64,
        crops_per_triplet: int = 1,
        flip: bool = True,
        val_batch_size: int = 1,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.dataset = dataset
        self.val_dataset = val_dataset
        self.val_preprocess = val_preprocess
        self.val_references = list(val_references or [])
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.batch_size = batch_size
        self.crop = crop
        self.crops_per_triplet = crops_per_triplet
        self.flip = flip
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        self.train_set: TwoAFCDataset | None = None
        self.val_set: TwoAFCDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if self.val_references:
            if self.val_dataset is not None:
                raise TwoAFCDataError("give either val_dataset or val_references, not both")
            self.train_set = self.dataset.filter_groups(self.val_references, exclude=True)
            self.val_set = self.dataset.filter_groups(self.val_references)
        elif self.val_dataset is not None:
            self.train_set, self.val_set = self.dataset, self.val_dataset
        elif self.val_fraction > 0:
            train, val = split_by_group(self.dataset.groups, self.val_fraction, self.split_seed)
            self.train_set, self.val_set = self.dataset.subset(train), self.dataset.subset(val)
        else:
            self.train_set, self.val_set = self.dataset, None
        if self.val_set is not None and self.val_preprocess is not None:
            self.val_set = TwoAFCDataset(self.val_set.records, self.val_preprocess)
        if not self.train_set.records:
            raise TwoAFCDataError("no training triplets are left after the validation split")
        if self.val_set is not None:
            overlap = set(self.train_set.groups) & set(self.val_set.groups)
            if overlap:
                raise TwoAFCDataError(
                    f"references in both train and val: {sorted(overlap)[:3]} (split by reference)"
                )

    def train_dataloader(self) -> DataLoader:
        data = CroppedTriplets(self.train_set, self.crop, self.crops_per_triplet, self.flip)
        return DataLoader(
            data, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers,
            drop_last=len(data) > self.batch_size,
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return DataLoader(
            UniquePairs(self.val_set), batch_size=self.val_batch_size, shuffle=False,
            num_workers=self.num_workers,
        )
