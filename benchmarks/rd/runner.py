"""Runs every (image, codec, quality): encode to a real file, decode, score, cache.

Work is split per (image, codec) so a worker reads each image once; finished qualities are
taken from the cache before anything is dispatched, so only missing work runs. Saliency
masks are computed once per image in the main process (and cached) because every codec's
saliency-aware metrics use the same region of the same original.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.codecs.base import CodecAdapter, RoundTrip
from benchmarks.metrics import MetricSuite
from benchmarks.rd.cache import ResultCache, image_key
from benchmarks.rd.tables import METRIC_INFO
from perceptual_codec.core.atomic import atomic_write_bytes
from perceptual_codec.core.errors import ImageReadError, UserFacingError

#: every metric column a record can hold (see benchmarks.rd.tables.METRIC_INFO)
ALL_METRICS = frozenset(METRIC_INFO)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")


class DataFolderError(UserFacingError):
    """The data folder is missing, not a folder, or holds no readable image."""


@dataclass(frozen=True)
class BenchImage:
    path: Path
    key: str
    height: int
    width: int

    @property
    def name(self) -> str:
        return self.path.stem


def discover_images(folder: str | Path, limit: int | None = None) -> list[BenchImage]:
    """The folder's images (sorted by name; first ``limit``), each read once to check it."""
    from perceptual_codec.core.io import load_image_array

    folder = Path(folder)
    if not folder.exists():
        raise DataFolderError(f"data folder {folder} does not exist")
    if not folder.is_dir():
        raise DataFolderError(f"{folder} is not a folder; give a folder of images")
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not paths:
        raise DataFolderError(f"data folder {folder} holds no images "
                              f"(looked for {', '.join(IMAGE_SUFFIXES)})")
    if limit is not None:
        if limit < 1:
            raise DataFolderError(f"--limit must be at least 1, got {limit}")
        paths = paths[:limit]
    images = []
    for p in paths:
        try:
            a = load_image_array(p)
        except ImageReadError as exc:
            raise DataFolderError(f"cannot read {p}: {exc}") from exc
        images.append(BenchImage(p, image_key(p, a), a.shape[0], a.shape[1]))
    return images


@dataclass
class Job:
    image: BenchImage
    codec: CodecAdapter
    codec_dir: str
    qualities: list
    mask_path: Path | None
    #: quality -> cached record whose stored file can be re-scored without encoding
    rescore: dict = field(default_factory=dict)


@dataclass
class RunResult:
    records: list[dict]
    reused: int = 0
    computed: int = 0
    rescored: int = 0
    failures: list[str] = field(default_factory=list)
    skipped_codecs: dict[str, str] = field(default_factory=dict)


# -- worker side ---------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(suite: MetricSuite, cache_root: str, groups: list[str], learned: bool,
                 threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)
    _STATE.update(suite=suite, cache=ResultCache(cache_root), groups=groups, learned=learned)


def _point(job: Job, image: np.ndarray, q: Any) -> tuple[RoundTrip, bool]:
    """Encode+decode, or decode the file kept by an earlier run (re-scoring only)."""
    cache: ResultCache = _STATE["cache"]
    old = job.rescore.get(q)
    if old is not None:
        f = cache.file_path(job.codec_dir, job.image.key, q, job.codec.extension)
        if f.is_file() and f.stat().st_size == old.get("bytes"):
            data = f.read_bytes()
            t0 = time.perf_counter()
            decoded = job.codec.decode(data)
            if decoded.shape == image.shape:
                return RoundTrip(data, decoded, float(old["encode_s"]),
                                 time.perf_counter() - t0), True
    return job.codec.roundtrip(image, q), False


def _run_job(job: Job) -> tuple[list[dict], list[str], int]:
    from perceptual_codec.core.io import load_image_array

    suite: MetricSuite = _STATE["suite"]
    cache: ResultCache = _STATE["cache"]
    image = load_image_array(job.image.path)
    mask = np.load(job.mask_path) if job.mask_path is not None else None
    records: list[dict] = []
    failures: list[str] = []
    rescored = 0
    state = suite.reference(image, learned=_STATE["learned"])
    for q in job.qualities:
        try:
            rt, reused_file = _point(job, image, q)
            row = suite.score(image, rt.decoded, mask, learned=_STATE["learned"], state=state)
        except Exception as exc:  # noqa: BLE001 - one bad point must not sink the run
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            failures.append(f"{job.codec.label} q={q} on {job.image.name}: {tb}")
            continue
        rescored += reused_file
        rec = {"image": job.image.name, "image_key": job.image.key, "codec": job.codec.label,
               "codec_name": job.codec.name, "quality": q, "height": job.image.height,
               "width": job.image.width, "bytes": rt.num_bytes, "bpp": rt.bpp(), **row,
               "encode_s": rt.encode_s, "decode_s": rt.decode_s}
        cache.put(job.codec_dir, job.image.key, q, _STATE["groups"], rec,
                  data=None if reused_file else rt.data, extension=job.codec.extension)
        records.append(rec)
    return records, failures, rescored


# -- main side -----------------------------------------------------------------------
def _save_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def prepare_masks(images: Sequence[BenchImage], suite: MetricSuite, cache: ResultCache,
                  progress: bool = True) -> dict[str, Path | None]:
    """Salient-region mask of each original (cached as .npy); None without a saliency model."""
    from tqdm.auto import tqdm

    from perceptual_codec.core.io import load_image_array

    out: dict[str, Path | None] = {img.key: None for img in images}
    if suite.load_saliency() is None:
        return out
    for img in tqdm(images, desc="saliency", disable=not progress, leave=False):
        p = cache.saliency_path(img.key, suite.saliency_used or "", suite.salient_fraction)
        if not p.is_file():
            _save_npy(p, suite.saliency_mask(load_image_array(img.path)))
        out[img.key] = p
    return out


def metric_description(suite: MetricSuite, learned: bool) -> dict[str, Any]:
    d = suite.describe()
    d.update(learned=learned, saliency_used=suite.saliency_used,
             lpips_loaded=sorted(suite.lpips_models) if learned else [],
             groups=suite.groups(learned))
    return d


def run_benchmark(images: Sequence[BenchImage], codecs: Sequence[CodecAdapter],
                  suite: MetricSuite, cache: ResultCache, jobs: int = 1, learned: bool = True,
                  progress: bool = True,
                  on_record: Callable[[dict], None] | None = None) -> RunResult:
    """Fill the cache for every (image, codec, quality) and return all records.

    A cached record is reused when it holds every metric group this run needs; one that
    lacks some is re-scored from its stored file; a missing one is encoded."""
    from tqdm.auto import tqdm

    result = RunResult(records=[])
    runnable = []
    for codec in codecs:
        ok, why = codec.available()
        if ok:
            runnable.append(codec)
        else:
            result.skipped_codecs[codec.label] = why
    if learned:
        loaded = suite.lpips_models  # load once here: notes, and workers only load what works
        suite.lpips_names = tuple(n for n in suite.lpips_names if n in loaded)
    masks = prepare_masks(images, suite, cache, progress)
    groups = suite.groups(learned)
    need = set(groups)
    keep = set(suite.columns(learned))

    # image-major order: an interrupted run leaves complete images (every codec), which
    # ``--limit`` can report on while the rest finishes later
    work: list[Job] = []
    cdirs = {codec.label: cache.codec_dir(codec.label, codec.config_id()) for codec in runnable}
    for img in images:
        for codec in runnable:
            cdir = cdirs[codec.label]
            todo, rescore = [], {}
            for q in codec.qualities:
                rec = cache.get(cdir, img.key, q)
                if rec is not None and need <= set(rec.get("_groups", ())):
                    # keep only this run's metrics (an earlier run may have scored more)
                    result.records.append({k: v for k, v in rec.items()
                                           if k not in ALL_METRICS or k in keep})
                    result.reused += 1
                    continue
                todo.append(q)
                if rec is not None:
                    rescore[q] = rec
            if todo:
                work.append(Job(img, codec, cdir, todo, masks.get(img.key), rescore))

    total = sum(len(j.qualities) for j in work)
    bar = tqdm(total=total, desc="encode+score", unit="pt", disable=not progress or total == 0)

    def collect(recs: list[dict], fails: list[str], rescored: int) -> None:
        result.records.extend(recs)
        result.computed += len(recs)
        result.rescored += rescored
        result.failures.extend(fails)
        for r in recs:
            if on_record is not None:
                on_record(r)
        bar.update(len(recs) + len(fails))

    args = (suite, str(cache.root), groups, learned)
    try:
        if jobs <= 1 or len(work) <= 1:
            _init_worker(*args, threads=None)
            for job in work:
                collect(*_run_job(job))
        else:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            # spawn, not fork: the parent already runs torch's thread pools
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                     initargs=(*args, threads)) as pool:
                futures = [pool.submit(_run_job, j) for j in work]
                try:
                    for fut in as_completed(futures):
                        collect(*fut.result())
                except BaseException:  # Ctrl-C or a crashed worker: stop queued work fast
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    return result
