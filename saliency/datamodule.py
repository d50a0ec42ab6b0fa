"""LightningDataModule for image / fixation-map folders, split by image."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytorch_lightning as pl
import torch

from saliency.data import (
    FixationDataset,
    SaliencyDataError,
    SizeBatchSampler,
    discover,
    load_split_file,
    split_by_image,
)


class SaliencyDataModule(pl.LightningDataModule):
    """Train / val / test loaders over one fixation data folder (see :mod:`saliency.data`).

    Args:
        data_dir: the data set root (NUS, MIT1003 or SALICON-style layout).
        area: pixels of the network's working size (192*256 by default; aspect kept).
        batch_size: images per batch (a batch holds images of one working size).
        test_size, val_size, split_seed: the fixed-seed split by image
            (:func:`saliency.data.split_by_image`); ignored when ``split_file`` is given.
        split_file: JSON ``{"train": [...], "val": [...], "test": [...]}`` of image keys.
        hflip: random horizontal flips of training samples.
        num_workers: loader processes; samples are cached in memory, so 0 is usually best.
        preload_threads: threads that decode the images once at setup.
    """

    def __init__(
        self,
        data_dir: str,
        area: int = 192 * 256,
        batch_size: int = 8,
        test_size: int = 40,
        val_size: int = 16,
        split_seed: int = 0,
        split_file: str | None = None,
        hflip: bool = True,
        num_workers: int = 0,
        preload_threads: int = 2,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.area = area
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.preload_threads = preload_threads
        self.hflip = hflip
        self.datasets: dict[str, FixationDataset] = {}

    def split(self) -> dict[str, list[str]]:
        """The image keys of each split."""
        records = discover(self.data_dir)
        keys = [r.key for r in records]
        hp = self.hparams
        if hp.split_file:
            split = load_split_file(hp.split_file)
            unknown = sorted(set().union(*split.values()) - set(keys))
            if unknown:
                raise SaliencyDataError(
                    f"split file names {len(unknown)} images not in {self.data_dir}, e.g. {unknown[0]}"
                )
            return split
        return split_by_image(keys, hp.test_size, hp.val_size, hp.split_seed)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        by_key = {r.key: r for r in discover(self.data_dir)}
        for name, keys in self.split().items():
            recs = [by_key[k] for k in keys]
            ds = FixationDataset(recs, self.area, hflip=self.hflip and name == "train")
            self.datasets[name] = ds
        self._preload()

    def _preload(self) -> None:
        """Decode every sample once, in threads (PIL releases the GIL while decoding)."""
        from tqdm.auto import tqdm

        jobs = [(ds, i) for ds in self.datasets.values() for i in range(len(ds))]
        with ThreadPoolExecutor(max(1, self.preload_threads)) as pool:
            list(tqdm(pool.map(lambda j: j[0]._load(j[1]), jobs), total=len(jobs),
                      desc=f"loading {Path(self.data_dir).name}", leave=False))

    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        if name not in self.datasets:
            self.setup()
        ds = self.datasets.get(name)
        if ds is None or len(ds) == 0:
            raise SaliencyDataError(f"the '{name}' split of {self.data_dir} is empty")
        return torch.utils.data.DataLoader(
            ds,
            batch_sampler=SizeBatchSampler(ds.sizes, self.batch_size, shuffle),
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("test", shuffle=False)
