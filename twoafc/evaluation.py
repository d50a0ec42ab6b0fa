"""Scoring metrics on judged data: per-pair distances, then 2AFC / JND tables.

Each distinct (reference, image) pair is measured once per metric and every triplet's
score is assembled from those distances. A *fold metric* is loaded per reference from a
path pattern (``{ref}`` is replaced by the triplet's reference id), which is how
leave-one-reference-out results are scored: every reference by the model that never saw it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .datasets import BAPPSJND, TwoAFCDataset
from .scores import human_agreement, human_ceiling, jnd_map, twoafc_score

HUMAN_CEILING = "human ceiling"
HUMAN_AGREEMENT = "human agreement"
DIST_COLUMNS = ("metric", "ref", "image", "setting", "distance")


def _setting(dataset) -> str:
    pre = dataset.preprocess
    return f"scale={pre.scale};center_crop={pre.center_crop};mismatch={pre.mismatch}"


def read_distances(path: Path) -> dict[tuple[str, str, str, str], float]:
    """Distances saved by an earlier run (see :func:`pair_distances`)."""
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        return {
            (r["metric"], r["ref"], r["image"], r["setting"]): float(r["distance"])
            for r in csv.DictReader(f)
        }


def pair_distances(
    dataset: TwoAFCDataset,
    metrics: Mapping[str, nn.Module],
    fold_metrics: Mapping[str, str] | None = None,
    known: Mapping[tuple[str, str, str, str], float] | None = None,
    device: str = "cpu",
    progress: bool = True,
    loader: Callable[[str], nn.Module] | None = None,
) -> pd.DataFrame:
    """Distances of every distinct (ref, image) pair of ``dataset`` under every metric.

    ``known`` distances (same metric name, files and preprocessing) are reused, not recomputed.
    """
    from tqdm import tqdm

    fold_metrics = dict(fold_metrics or {})
    if loader is None:
        from .metrics import load_metric

        def loader(path: str) -> nn.Module:
            return load_metric(path, device=device)

    setting = _setting(dataset)
    known = dict(known or {})
    pairs: dict[tuple[Path, Path], str] = {}
    for r in dataset.records:
        for img in (r.p0, r.p1):
            pairs.setdefault((r.ref, img), r.group)
    fold_cache: dict[str, nn.Module] = {}
    rows = []
    names = [*metrics, *fold_metrics]
    for (ref, img), group in tqdm(pairs.items(), desc="pairs", disable=not progress):
        x = y = None
        for name in names:
            key = (name, str(ref), str(img), setting)
            if key in known:
                d = known[key]
            else:
                if x is None:
                    pre = dataset.preprocess
                    x = pre.load(ref).unsqueeze(0).to(device)
                    y = pre.load(img, like=ref).unsqueeze(0).to(device)
                if name in metrics:
                    model = metrics[name]
                else:
                    path = fold_metrics[name].replace("{ref}", group)
                    if path not in fold_cache:
                        fold_cache[path] = loader(path)
                    model = fold_cache[path]
                with torch.no_grad():
                    d = float(model(x, y).reshape(-1)[0])
            rows.append((name, str(ref), str(img), setting, d))
    return pd.DataFrame(rows, columns=list(DIST_COLUMNS))


def twoafc_table(
    dataset: TwoAFCDataset, distances: pd.DataFrame, by_reference: bool = True
) -> pd.DataFrame:
    """Long table: metric, reference ("all" = pooled triplets), n_triplets, 2afc, spearman.

    ``spearman`` is the rank correlation of ``d0 - d1`` with ``judge``: whether a larger
    distance gap comes with a clearer human preference (finer than the 2AFC score when
    metrics agree on every majority). Human rows have no spearman (NaN).
    """
    lookup = {
        (m, ref, img): d
        for m, ref, img, d in distances[["metric", "ref", "image", "distance"]].itertuples(index=False)
    }
    metrics = list(dict.fromkeys(distances["metric"]))
    groups = [r.group for r in dataset.records]
    judge = np.array([r.judge for r in dataset.records])
    subsets = {"all": np.arange(len(groups))}
    if by_reference:
        for g in sorted(set(groups)):
            subsets[g] = np.array([i for i, x in enumerate(groups) if x == g])
    rows = []
    for name in metrics:
        d0 = np.array([lookup[(name, str(r.ref), str(r.p0))] for r in dataset.records])
        d1 = np.array([lookup[(name, str(r.ref), str(r.p1))] for r in dataset.records])
        for label, idx in subsets.items():
            rows.append((name, label, len(idx), twoafc_score(d0[idx], d1[idx], judge[idx]),
                         _spearman(d0[idx] - d1[idx], judge[idx])))
    for label, idx in subsets.items():
        rows.append((HUMAN_CEILING, label, len(idx), human_ceiling(judge[idx]), np.nan))
        rows.append((HUMAN_AGREEMENT, label, len(idx), human_agreement(judge[idx]), np.nan))
    return pd.DataFrame(rows, columns=["metric", "reference", "n_triplets", "2afc", "spearman"])


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(spearmanr(x, y).statistic)


def jnd_table(
    dataset: BAPPSJND, metrics: Mapping[str, nn.Module], device: str = "cpu", progress: bool = True
) -> pd.DataFrame:
    """JND mAP of every metric on a JND data set."""
    from tqdm import tqdm

    dist: dict[str, list[float]] = {m: [] for m in metrics}
    same = []
    for i in tqdm(range(len(dataset)), desc="pairs", disable=not progress):
        a, b, s = dataset[i]
        a, b = a.unsqueeze(0).to(device), b.unsqueeze(0).to(device)
        with torch.no_grad():
            for name, model in metrics.items():
                dist[name].append(float(model(a, b).reshape(-1)[0]))
        same.append(float(s))
    return pd.DataFrame(
        [(m, len(same), jnd_map(d, same)) for m, d in dist.items()],
        columns=["metric", "n_pairs", "jnd_map"],
    )


def markdown_table(table: pd.DataFrame, value: str, short_names: bool = True) -> str:
    """Pipe table: one row per metric, one column per reference (plus "all"); rows whose
    values are all NaN are left out."""
    if "reference" not in table:
        lines = ["| metric | " + value + " |", "| --- | ---: |"]
        lines += [f"| {r.metric} | {getattr(r, value):.4f} |" for r in table.itertuples(index=False)]
        return "\n".join(lines) + "\n"
    wide = table.pivot(index="metric", columns="reference", values=value)
    order = list(dict.fromkeys(table["metric"]))
    columns = [c for c in dict.fromkeys(table["reference"]) if c != "all"] + ["all"]
    wide = wide.loc[order, columns].dropna(how="all")
    counts = table.drop_duplicates("reference").set_index("reference")["n_triplets"]

    def label(c: str) -> str:
        name = c.split(".")[0].split("_4096")[0].split("-422p")[0] if short_names else c
        return f"{name} (n={counts[c]})"

    lines = ["| metric | " + " | ".join(label(c) for c in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for metric, row in wide.iterrows():
        lines.append(f"| {metric} | " + " | ".join(f"{v:.4f}" for v in row.values) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(
    out_dir: str | os.PathLike, table: pd.DataFrame, markdown: str,
    distances: pd.DataFrame | None = None,
) -> list[Path]:
    """Atomically write ``scores.csv``, ``scores.md`` and ``distances.csv`` under ``out_dir``."""
    from perceptual_codec.core.atomic import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "scores.csv", out / "scores.md"]
    atomic_write_text(written[0], table.to_csv(index=False))
    atomic_write_text(written[1], markdown)
    if distances is not None:
        written.append(out / "distances.csv")
        atomic_write_text(written[2], distances.to_csv(index=False))
    return written


def parse_fold_metrics(specs: Sequence[str]) -> dict[str, str]:
    """``NAME=PATTERN`` strings (PATTERN contains ``{ref}``) to a dict."""
    from perceptual_codec.core.errors import UserFacingError

    out = {}
    for spec in specs:
        name, sep, pattern = spec.partition("=")
        if not sep or not name or "{ref}" not in pattern:
            raise UserFacingError(
                f"--fold-metric {spec!r}: expected NAME=PATTERN with {{ref}} in PATTERN, e.g. "
                "lpips-comp=runs/twoafc/loo/lin/{ref}/metric.pt"
            )
        out[name] = pattern
    return out
