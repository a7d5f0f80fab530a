"""The OT core against the properties in specs/lava.md §3 and §11 (float64, small problems)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, NonFiniteError, ShapeMismatchError
from hf_datavalue.core.ot import (
    DenseCost,
    PointCloudCost,
    calibrated_gradient,
    class_distance_table,
    exact_ot,
    resolve_eps,
    sinkhorn,
    sinkhorn_pot,
)


def _clouds(n: int = 120, m: int = 50, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randn(m, d, generator=gen, dtype=torch.float64) + 0.5
    return x, y


def test_calibrated_gradient_sums_to_zero_and_is_shift_invariant():
    f = np.random.default_rng(0).normal(size=300) * 10
    cg = calibrated_gradient(f)
    assert abs(cg.sum()) <= 1e-9 * len(f) * np.abs(f).max()
    np.testing.assert_allclose(calibrated_gradient(f + 123.4), cg, rtol=1e-12, atol=1e-12)
    assert (np.argsort(cg, kind="stable") == np.argsort(f, kind="stable")).all()


def test_finite_difference_equals_calibrated_gradient():
    x, y = _clouds()
    cost = PointCloudCost(x, y, feature_weight=0.5)
    n = cost.shape[0]
    res = sinkhorn(cost, eps=0.1, tol=1e-13, max_iter=100_000, momentum=1.5)
    cg = calibrated_gradient(res.f)
    h = 1e-4 / n
    for i in np.random.default_rng(1).choice(n, 5, replace=False):
        delta = np.full(n, -1.0 / (n - 1))
        delta[i] = 1.0
        a0 = np.full(n, 1.0 / n)
        plus = sinkhorn(cost, a0 + h * delta, eps=0.1, tol=1e-14, max_iter=100_000, momentum=1.5).value
        minus = sinkhorn(cost, a0 - h * delta, eps=0.1, tol=1e-14, max_iter=100_000, momentum=1.5).value
        assert abs((plus - minus) / (2 * h) - cg[i]) <= 1e-6 * np.abs(cg).max()


def test_entropic_matches_exact_lp_duals_on_three_gaussians():
    # The spec's reference reaches 0.9997 on an unpublished generator; on this one (LAVA's hybrid cost, 20% flips)
    # the measured Pearson is 0.997-0.9995 per seed: entropic blur at eps=0.1 plus non-unique LP duals.
    correlations = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        means = np.array([[0, 0], [4, 0], [0, 4]])
        yt, yv = np.repeat(np.arange(3), 50), np.repeat(np.arange(3), 20)
        x, y = means[yt] + rng.normal(size=(150, 2)), means[yv] + rng.normal(size=(60, 2))
        flipped = rng.random(150) < 0.2
        yt[flipped] = (yt[flipped] + 1) % 3
        xt, xv = torch.as_tensor(x), torch.as_tensor(y)
        table, _ = class_distance_table(xt, torch.as_tensor(yt), xv, torch.as_tensor(yv), 3, 3, eps=0.1, tol=1e-9)
        cost = PointCloudCost(x, y, feature_weight=0.5, label_table=0.5 * table, x_labels=yt, y_labels=yv)
        cg_eps = calibrated_gradient(sinkhorn(cost, eps=0.1, tol=1e-10, max_iter=100_000, momentum=1.5).f)
        cg_lp = calibrated_gradient(exact_ot(cost).f)
        correlations.append(np.corrcoef(cg_eps, cg_lp)[0, 1])
    assert min(correlations) >= 0.995 and np.mean(correlations) >= 0.997, correlations


@pytest.mark.parametrize("momentum", [1.0, 1.5])
def test_dense_online_and_pot_backends_agree(momentum):
    x, y = _clouds(2000, 500, 4)
    cost = PointCloudCost(x, y, feature_weight=0.5)
    dense = calibrated_gradient(sinkhorn(cost, eps=0.5, tol=1e-10, mode="dense", momentum=momentum).f)
    online = calibrated_gradient(sinkhorn(cost, eps=0.5, tol=1e-10, mode="online", block_size=333).f)
    pot = calibrated_gradient(sinkhorn_pot(cost, eps=0.5, tol=1e-11).f)
    scale = np.abs(dense).max()
    assert np.abs(dense - online).max() <= 1e-5 * scale
    assert np.abs(dense - pot).max() <= 1e-5 * scale


@pytest.mark.parametrize("momentum", [1.0, 1.5])
def test_kernel_iterations_reproduce_log_domain_iterations(momentum):
    # Same iterates, so the same iteration count and potentials up to float64 rounding.
    x, y = _clouds(600, 250, 6)
    cost = PointCloudCost(x, y)
    log = sinkhorn(cost, eps=0.02, eps_mode="relative", tol=1e-8, mode="dense", iteration="log", momentum=momentum)
    ker = sinkhorn(cost, eps=0.02, eps_mode="relative", tol=1e-8, mode="dense", iteration="kernel", momentum=momentum)
    assert ker.converged and ker.n_iter == log.n_iter
    assert torch.allclose(ker.f, log.f, atol=1e-10) and torch.allclose(ker.g, log.g, atol=1e-10)
    assert ker.value == pytest.approx(log.value, rel=1e-12)


def test_kernel_reabsorbs_when_scalings_drift(monkeypatch):
    # Costs around 1e3 with eps=1e-3, and a tight absorption bound so the scalings leave it within stages.
    monkeypatch.setattr("hf_datavalue.core.ot.kernel._ABSORB_LOG_BOUND", 0.5)
    x, y = _clouds(200, 80, 3)
    cost = PointCloudCost(x * 30, y * 30, feature_weight=0.5)
    log = sinkhorn(cost, eps=1e-3, tol=1e-6, max_iter=400, momentum=1.5, mode="dense", iteration="log")
    ker = sinkhorn(cost, eps=1e-3, tol=1e-6, max_iter=400, momentum=1.5, mode="dense", iteration="kernel")
    n_stages = int(np.ceil(np.log2(cost.upper_bound() / 1e-3))) + 1  # annealing stages + the final one
    assert ker.kernel_builds > n_stages
    assert torch.isfinite(ker.f).all() and ker.n_iter == log.n_iter
    assert torch.allclose(ker.f, log.f, rtol=1e-9, atol=1e-9)


def test_kernel_falls_back_to_log_domain_when_it_underflows():
    # No annealing: the first kernel exp(-C / eps) is all zeros (C ~ 1e3, eps = 1e-3), so the solver must take a
    # log-domain step and rebuild instead of returning infinite potentials.
    x, y = _clouds(200, 80, 3)
    cost = PointCloudCost(x * 30, y * 30, feature_weight=0.5)
    log = sinkhorn(cost, eps=1e-3, anneal=False, tol=1e-6, max_iter=150, mode="dense", iteration="log")
    ker = sinkhorn(cost, eps=1e-3, anneal=False, tol=1e-6, max_iter=150, mode="dense", iteration="kernel")
    assert ker.kernel_builds >= 2 and torch.isfinite(ker.f).all() and torch.isfinite(ker.g).all()
    assert ker.n_iter == log.n_iter and torch.allclose(ker.f, log.f, rtol=1e-9, atol=1e-9)


def test_small_eps_large_costs_stay_finite():
    x, y = _clouds(200, 80, 3)
    cost = PointCloudCost(x * 30, y * 30, feature_weight=0.5)  # entries around 1e3
    res = sinkhorn(cost, eps=1e-3, tol=1e-6, max_iter=3000, momentum=1.5)
    assert torch.isfinite(res.f).all() and torch.isfinite(res.g).all()
    assert np.isfinite(calibrated_gradient(res.f)).all()


def test_float32_is_deterministic():
    x, y = _clouds(300, 100, 8)
    cost = PointCloudCost(x, y, feature_weight=0.5, dtype=torch.float32)
    a = sinkhorn(cost, eps=0.1, tol=1e-4, momentum=1.5)
    b = sinkhorn(cost, eps=0.1, tol=1e-4, momentum=1.5)
    assert torch.equal(a.f, b.f) and a.n_iter == b.n_iter


def test_relative_eps_scales_with_median_cost():
    x, y = _clouds(100, 40, 3)
    cost = PointCloudCost(x, y)
    median = float(cost.dense().matrix.median())
    assert resolve_eps(cost, 0.05, "relative") == pytest.approx(0.05 * median)
    assert resolve_eps(cost, 0.05, "absolute") == 0.05


def test_class_table_solves_only_cross_pairs_and_skips_absent_classes(monkeypatch):
    x, y = _clouds(90, 60, 3)
    xl = torch.arange(90) % 3
    yl = torch.arange(60) % 2  # class 2 has no target points
    solved = []
    original = sinkhorn

    def counting_sinkhorn(cost, *args, **kwargs):
        solved.append(cost.shape)
        return original(cost, *args, **kwargs)

    # the module that defines the table calls the solver: count there
    monkeypatch.setattr(sys.modules[class_distance_table.__module__], "sinkhorn", counting_sinkhorn)
    table, n_problems = class_distance_table(x, xl, y, yl, 3, 3, eps=0.1, tol=1e-9)
    # count the problems actually handed to the solver, not the reported loop length: 3 x 2 cross pairs of 30 x 30
    assert n_problems == len(solved) == 6
    assert solved == [(30, 30)] * 6
    assert torch.isinf(table[:, 2]).all() and torch.isfinite(table[:, :2]).all()


def test_bad_inputs_raise_typed_errors():
    x, y = _clouds(10, 5, 3)
    with pytest.raises(ShapeMismatchError):
        PointCloudCost(x, torch.randn(5, 4, dtype=torch.float64))
    with pytest.raises(NonFiniteError):
        PointCloudCost(x.clone().fill_(float("nan")), y)
    with pytest.raises(EmptyDatasetError):
        PointCloudCost(x[:0], y)
    with pytest.raises(ConfigError):
        sinkhorn(DenseCost(torch.ones(3, 3)), eps=-1.0)
    with pytest.raises(ConfigError):
        sinkhorn(DenseCost(torch.ones(3, 3)), a=[0.0, 0.0, 0.0])
    with pytest.raises(ShapeMismatchError):
        sinkhorn(DenseCost(torch.ones(3, 3)), a=[0.5, 0.5])
    with pytest.raises(ConfigError, match="dense"):
        sinkhorn(PointCloudCost(x, y), mode="online", iteration="kernel")
    with pytest.raises(ConfigError, match="iteration"):
        sinkhorn(DenseCost(torch.ones(3, 3)), iteration="fast")  # type: ignore[arg-type]
