"""Spread the benchmark over GPUs and nodes with Lightning ``predict`` (DDP strategy).

Each rank gets a disjoint share of the pending (setting, image) items through Lightning's
distributed sampler, encodes/decodes them in its DataLoader workers and writes results to
the shared cache (one file per item, atomic, so ranks never collide). When every rank is
done, rank 0 alone reads the cache and writes the tables; the others return.

    pcodec bench coco --data coco/ --codec jpeg --detector maskrcnn \\
        --lightning --accelerator gpu --devices 8 --num-nodes 4 --strategy ddp

For several nodes, launch the same command on every node with the usual
``MASTER_ADDR``/``MASTER_PORT``/``NODE_RANK`` (or under SLURM/torchrun): the cache folder must
be on storage all nodes share.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from benchmarks.coco.pipeline import BatchProcessor, RoundTripItems, collate_items


class RoundTripDataModule(pl.LightningDataModule):
    """Serves the pending items; workers do the codec round trips."""

    def __init__(self, items: RoundTripItems, batch_size: int = 4, num_workers: int = 0) -> None:
        super().__init__()
        self.items = items
        self.batch_size = batch_size
        self.num_workers = num_workers

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.items, batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers, collate_fn=collate_items)


class DownstreamPredictor(pl.LightningModule):
    """Holds the detector/classifier networks so Lightning places them on each rank's device."""

    def __init__(self, processor: BatchProcessor) -> None:
        super().__init__()
        self.processor = processor
        nets = {}
        for key, model in (("detector", processor.detector), ("classifier", processor.classifier)):
            net = getattr(model, "model", None)
            if isinstance(net, torch.nn.Module):
                nets[key] = net
        self.nets = torch.nn.ModuleDict(nets)

    def on_predict_start(self) -> None:
        self.processor.to(self.device)

    def predict_step(self, batch: list[dict[str, Any]], batch_idx: int) -> int:
        return self.processor.process(batch)


def run_lightning(processor: BatchProcessor, items: RoundTripItems, *, batch_size: int = 4,
                  jobs: int = 0, accelerator: str = "auto", devices: Any = "auto",
                  num_nodes: int = 1, strategy: str = "ddp", progress: bool = True) -> bool:
    """Run every pending item; returns True on the process that should write the report."""
    trainer = pl.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy,
        logger=False, enable_checkpointing=False, enable_progress_bar=progress,
        enable_model_summary=False, use_distributed_sampler=True,
    )
    module = DownstreamPredictor(processor)
    if len(items):
        trainer.predict(module, datamodule=RoundTripDataModule(items, batch_size, jobs),
                        return_predictions=False)
    trainer.strategy.barrier("coco-bench-done")
    return trainer.is_global_zero
