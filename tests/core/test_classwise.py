"""Checks of the core's class-wise OT, debiased divergence and group (source-level) calibrated gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_datavalue.core.errors import EmptyDatasetError, ShapeMismatchError
from hf_datavalue.core.ot import (
    PointCloudCost,
    calibrated_gradient,
    class_distance_table,
    classwise_divergence,
    classwise_ot,
    group_calibrated_gradient,
    sinkhorn,
)


def _toy(rng: np.random.Generator, n: int = 60, m: int = 40, d: int = 4, shift: float = 0.0):
    x = rng.normal(size=(n, d)) + shift
    y = rng.normal(size=(m, d))
    return x, rng.integers(0, 3, n), y, rng.integers(0, 3, m)


def test_group_gradient_is_mean_inside_minus_mean_outside(rng):
    f = rng.normal(size=50)
    groups = rng.integers(0, 4, 50)
    got = group_calibrated_gradient(f, groups)
    want = [f[groups == i].mean() - f[groups != i].mean() for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(group_calibrated_gradient(f + 7.5, groups), got, atol=1e-12)
    # singleton groups: exactly the per-point calibrated gradient f_i - mean_{j != i} f_j
    single = group_calibrated_gradient(f, np.arange(50))
    np.testing.assert_allclose(single, calibrated_gradient(f), atol=1e-12)


def test_group_gradient_matches_finite_differences_of_entropic_ot():
    """Spec projektor §9.4: moving mass onto source i (evenly from the rest) changes OT_eps by the group gradient."""
    gen = np.random.default_rng(1)
    x, y = gen.normal(size=(30, 3)), gen.normal(size=(25, 3))
    groups = np.repeat([0, 1, 2], 10)
    p = np.array([0.5, 0.3, 0.2])
    a = p[groups] / 10

    def ot_value(weights: np.ndarray) -> float:
        cost = PointCloudCost(x, y, feature_weight=0.5, dtype=torch.float64)
        return sinkhorn(cost, weights, eps=0.5, tol=1e-13, max_iter=100_000, anneal=False).value

    cost = PointCloudCost(x, y, feature_weight=0.5, dtype=torch.float64)
    f = sinkhorn(cost, a, eps=0.5, tol=1e-13, max_iter=100_000, anneal=False).f.numpy()
    grad = group_calibrated_gradient(f, groups, weights=a)
    h = 1e-5
    for i in range(3):
        inside = (groups == i) * a / a[groups == i].sum()
        outside = (groups != i) * a / a[groups != i].sum()
        direction = inside - outside
        fd = (ot_value(a + h * direction) - ot_value(a - h * direction)) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-5, abs=1e-9)


def test_group_gradient_rejects_bad_input(rng):
    with pytest.raises(ShapeMismatchError):
        group_calibrated_gradient(rng.normal(size=5), np.zeros(4, dtype=int))
    with pytest.raises(EmptyDatasetError, match="no mass"):
        group_calibrated_gradient(rng.normal(size=5), np.zeros(5, dtype=int), n_groups=2)


def test_classwise_ot_matches_hand_built_hybrid_cost(rng):
    x, xl, y, yl = _toy(rng)
    res = classwise_ot(x, xl, y, yl, dtype="float64", tol=1e-10, inner_tol=1e-10, lambda_y=2.0)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    table, _ = class_distance_table(
        xt, torch.as_tensor(xl), yt, torch.as_tensor(yl), 3, 3, eps=0.1, tol=1e-10, max_iter=3000
    )
    cost = PointCloudCost(
        xt, yt, feature_weight=0.5, label_table=0.5 * 2.0 * table, x_labels=xl, y_labels=yl, dtype=torch.float64
    )
    want = sinkhorn(cost, eps=0.1, tol=1e-10, max_iter=3000)
    assert res.value == pytest.approx(want.value, rel=1e-8)
    np.testing.assert_allclose(res.label_distances.numpy(), table.numpy(), rtol=1e-8)
    np.testing.assert_allclose(calibrated_gradient(res.result.f), calibrated_gradient(want.f), rtol=1e-6, atol=1e-8)


def test_weighted_classwise_ot_equals_duplicated_points(rng):
    """Integer masses on points are the same distribution as repeating the points."""
    x, xl, y, yl = _toy(rng, n=20, m=15)
    counts = rng.integers(1, 4, 20)
    weighted = classwise_ot(x, xl, y, yl, x_weights=counts.astype(float), dtype="float64", tol=1e-10, inner_tol=1e-10)
    rep = np.repeat(np.arange(20), counts)
    repeated = classwise_ot(x[rep], xl[rep], y, yl, dtype="float64", tol=1e-10, inner_tol=1e-10)
    assert weighted.value == pytest.approx(repeated.value, rel=1e-6)


def test_zero_weight_source_is_ignored(rng):
    x, xl, y, yl = _toy(rng, n=30, m=20)
    w = np.r_[np.ones(20), np.zeros(10)]
    weighted = classwise_ot(x, xl, y, yl, x_weights=w, dtype="float64", tol=1e-10, inner_tol=1e-10)
    sub = classwise_ot(x[:20], xl[:20], y, yl, dtype="float64", tol=1e-10, inner_tol=1e-10)
    assert weighted.value == pytest.approx(sub.value, rel=1e-6)


def test_divergence_is_zero_on_identical_clouds_and_grows_with_shift(rng):
    x, xl, _, _ = _toy(rng, n=40)
    same = classwise_divergence(x, xl, x, xl, dtype="float64", tol=1e-10, inner_tol=1e-10)
    assert abs(same.divergence) < 1e-8
    assert same.ot_xy > 0  # the entropic bias the debiasing removes
    divs = []
    for shift in (0.5, 1.0, 2.0):
        xs, xsl, y, yl = _toy(np.random.default_rng(3), shift=shift)
        divs.append(classwise_divergence(xs, xsl, y, yl, dtype="float64", tol=1e-9).divergence)
    assert divs[0] < divs[1] < divs[2]


def test_classwise_rejects_bad_labels(rng):
    x, xl, y, yl = _toy(rng)
    with pytest.raises(ShapeMismatchError, match="x_labels"):
        classwise_ot(x, xl[:-1], y, yl)
    with pytest.raises(ShapeMismatchError, match="integer"):
        classwise_ot(x, xl.astype(float), y, yl)
    with pytest.raises(ShapeMismatchError, match="n_classes"):
        classwise_ot(x, xl, y, yl, n_classes=2)
