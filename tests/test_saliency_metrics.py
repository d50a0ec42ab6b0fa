"""Saliency metrics against small hand-computed cases (values worked out on paper)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saliency import losses, metrics

SAL = np.array([[0.1, 0.4], [0.35, 0.8]])


def test_auc_judd_hand_case():
    # positives 0.4, 0.35; negatives 0.1, 0.8. Thresholds 0.4 -> (fp .5, tp .5),
    # 0.35 -> (fp .5, tp 1). Trapezoids: .125 + 0 + .5 = .625.
    fix = np.array([[0, 1], [1, 0]])
    assert metrics.auc_judd(SAL, fix) == pytest.approx(0.625)


def test_auc_judd_perfect_and_constant():
    fix = np.array([[0, 0], [0, 1]])
    assert metrics.auc_judd(SAL, fix) == pytest.approx(1.0)
    # A flat map carries no information: exactly chance, not jitter-dependent.
    assert metrics.auc_judd(np.ones((5, 7)), np.eye(5, 7)) == pytest.approx(0.5)


def test_roc_auc_mann_whitney_with_ties():
    # pairs: 3>2, 3>0, 1<2, 1>0 -> 3/4
    assert metrics.roc_auc([3, 1], [2, 0]) == pytest.approx(0.75)
    assert metrics.roc_auc([1, 1], [1, 0]) == pytest.approx(0.75)  # one tie counts half


def test_shuffled_auc_hand_case_and_centre_bias():
    sal = np.array([[0.0, 1.0, 2.0, 3.0]])
    fix = np.array([[0, 1, 0, 1]])
    other = np.array([[1, 0, 1, 0]])
    # pos {1/3, 1}, neg {0, 2/3}: 1>0, 1>2/3, 1/3>0, 1/3<2/3 -> 3/4 in every draw.
    assert metrics.auc_shuffled(sal, fix, other, n_splits=5) == pytest.approx(0.75)
    # Fixations of other images at the same places: the score is chance (centre bias
    # alone earns nothing under sAUC).
    assert metrics.auc_shuffled(sal, fix, fix, n_splits=3) == pytest.approx(0.5)


def test_nss_hand_case():
    sal = np.array([[0.0, 1.0], [2.0, 3.0]])
    fix = np.array([[0, 0], [0, 1]])
    # mean 1.5, std (ddof=1) sqrt(5/3)
    assert metrics.nss(sal, fix) == pytest.approx(1.5 / math.sqrt(5 / 3))
    assert metrics.nss(np.ones((3, 3)), np.eye(3)) == 0.0


def test_cc_hand_case():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert metrics.cc(a, b) == pytest.approx(6.5 / math.sqrt(5 * 8.75))
    assert metrics.cc(a, a) == pytest.approx(1.0)
    assert metrics.cc(a, 5 - a) == pytest.approx(-1.0)


def test_kld_hand_case():
    sal = np.array([[1.0, 1.0]])
    dens = np.array([[1.0, 3.0]])
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert metrics.kld(sal, dens) == pytest.approx(expected, abs=1e-12)
    assert metrics.kld(dens, dens) == pytest.approx(0.0, abs=1e-12)


def test_sim_hand_case():
    sal = np.array([[0.0, 1.0, 2.0, 3.0]])
    dens = np.array([[3.0, 2.0, 1.0, 0.0]])
    # [0, 1/6, 1/3, 1/2] vs [1/2, 1/3, 1/6, 0] -> min sum 1/3
    assert metrics.sim(sal, dens) == pytest.approx(1 / 3)
    assert metrics.sim(dens, dens) == pytest.approx(1.0)


def test_saliency_resized_to_fixation_grid():
    sal = np.zeros((4, 4))
    sal[:2, 2:] = 1.0  # top-right quadrant
    fix = np.zeros((8, 8))
    fix[1, 6] = 1
    assert metrics.auc_judd(sal, fix) > 0.8
    assert metrics.nss(sal, fix) > 1.0
    scores = metrics.all_metrics(sal, fix + 0.01, fix)
    assert set(scores) == set(metrics.METRICS)
    assert math.isnan(scores["sauc"])  # needs other images' fixations
    other = np.zeros_like(fix)
    other[6, 1] = 1  # bottom-left: not salient in the map
    assert metrics.all_metrics(sal, fix + 0.01, fix, other)["sauc"] == pytest.approx(1.0)


def test_metric_errors_are_clear():
    with pytest.raises(ValueError, match="no fixated pixel"):
        metrics.nss(SAL, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        metrics.cc(np.ones(3), np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.cc(np.full((2, 2), np.nan), np.ones((2, 2)))
    with pytest.raises(ValueError, match="all zero"):
        metrics.kld(SAL, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="other images"):
        metrics.auc_shuffled(SAL, np.eye(2), np.zeros((2, 2)))


def test_torch_losses_agree_with_metrics():
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 1, 6, 5, generator=g)
    dens = torch.rand(2, 1, 6, 5, generator=g)
    fix = (torch.rand(2, 1, 6, 5, generator=g) > 0.7).float()
    expect_cc = np.mean([metrics.cc(pred[i, 0].numpy(), dens[i, 0].numpy()) for i in range(2)])
    expect_nss = np.mean([metrics.nss(pred[i, 0].numpy(), fix[i, 0].numpy()) for i in range(2)])
    p = pred / pred.sum(dim=(2, 3), keepdim=True)
    expect_kld = np.mean([metrics.kld(pred[i, 0].numpy(), dens[i, 0].numpy()) for i in range(2)])
    assert losses.cc(pred, dens).item() == pytest.approx(expect_cc, abs=1e-5)
    assert losses.nss(pred, fix).item() == pytest.approx(expect_nss, abs=1e-5)
    assert losses.kld_loss(p.log(), dens).item() == pytest.approx(expect_kld, abs=1e-4)


def test_combined_loss_prefers_the_target():
    dens = torch.zeros(1, 1, 8, 8)
    dens[0, 0, 2, 5] = 1.0
    fix = dens.clone()
    loss = losses.SaliencyLoss()
    good = torch.full((1, 1, 8, 8), -5.0)
    good[0, 0, 2, 5] = 5.0
    bad = torch.zeros(1, 1, 8, 8)
    assert loss(good, dens, fix)[0] < loss(bad, dens, fix)[0]
