"""Spec §9 checks 1-3 and 5: design matrix, OLS recovery, stage-2 identities, chain rule."""

from __future__ import annotations

import numpy as np
import pytest

from hf_datavalue.core.errors import ConfigError, NonFiniteError
from hf_datavalue.projektor import ProjektorPredictor, design_matrix, fit_stage1, simplex_grid
from hf_datavalue.projektor.predictor import Stage1Fit

P_STAR = np.array([0.4, 0.35, 0.25])


def stand_in_ot(p: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.atleast_2d(p) - P_STAR, axis=1) + 0.1


def true_coef() -> np.ndarray:
    return np.array([60.0, -20.0, 5.0, -3.0, 10.0, -8.0, 4.0, 2.0, -6.0, 3.0])


def test_library_design_has_ten_columns_and_full_rank():
    grid = simplex_grid(3, 10)
    assert grid.shape == (66, 3)
    x = design_matrix(stand_in_ot(grid), grid)
    assert x.shape == (66, 10)
    assert np.linalg.matrix_rank(x) == 10


def test_notebook_design_reproduces_eight_parameter_fit():
    from sklearn.linear_model import LinearRegression

    grid = simplex_grid(3, 10)
    ot = stand_in_ot(grid)
    y = 50 + 3 * grid[:, 0] - 10 * ot + np.sin(7 * grid[:, 1])
    fit = fit_stage1(ot, grid, y, design="notebook")
    p1, p2 = grid[:, 0], grid[:, 1]
    cols = np.stack([ot, p1, p2, p1 * ot, p2 * ot, p2**2 * ot, p1**2 * ot, np.zeros_like(ot)], axis=1)
    ref = LinearRegression().fit(cols, y)
    assert fit.coef[-1] == 0.0  # the zero column contributes nothing
    np.testing.assert_allclose(fit.coef[1:8], ref.coef_[:7], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.coef[0], ref.intercept_, rtol=1e-8)
    np.testing.assert_allclose([fit.predict(p, o) for p, o in zip(grid, ot)], ref.predict(cols), rtol=1e-9, atol=1e-9)


def test_ols_recovers_coefficients_noise_free_and_predicts_held_out_under_noise():
    grid = simplex_grid(3, 10)
    ot = stand_in_ot(grid)
    y = design_matrix(ot, grid) @ true_coef()
    train = grid[:, 1] < 0.5
    assert train.sum() == 45
    fit = fit_stage1(ot[train], grid[train], y[train])
    np.testing.assert_allclose(fit.coef, true_coef(), atol=1e-8)
    noisy = y + np.random.default_rng(0).normal(0, 1e-3, size=y.shape)
    fit = fit_stage1(ot[train], grid[train], noisy[train])
    pred = np.array([fit.predict(p, o) for p, o in zip(grid[~train], ot[~train])])
    assert np.sqrt(np.mean((pred - y[~train]) ** 2)) <= 0.03


def _two_size_predictor() -> tuple[ProjektorPredictor, np.ndarray, np.ndarray]:
    grid = simplex_grid(3, 10)
    ot0, ot1 = stand_in_ot(grid), 0.9 * stand_in_ot(grid)
    y0 = design_matrix(ot0, grid) @ true_coef()
    y1 = design_matrix(ot1, grid) @ (true_coef() * 1.1)
    return ProjektorPredictor().fit({1000: ot0, 1500: ot1}, grid, {1000: y0, 1500: y1}), ot0, ot1


def test_stage2_identities_and_affine_in_log_n():
    pred, ot0, ot1 = _two_size_predictor()
    p = np.array([0.2, 0.5, 0.3])
    o = (float(stand_in_ot(p)[0]), float(0.9 * stand_in_ot(p)[0]))
    assert pred.project(p, 1000, o) == pred.predict(p, 1000, o[0])
    assert pred.project(p, 1500, o) == pred.predict(p, 1500, o[1])
    logs = np.log([2000.0, 5000.0, 10_000.0, 40_000.0])
    vals = np.array([pred.project(p, float(np.exp(v)), o) for v in logs])
    slopes = np.diff(vals) / np.diff(logs)
    np.testing.assert_allclose(slopes, slopes[0], rtol=1e-9)
    with pytest.raises(ConfigError, match="below the smallest pilot size"):
        pred.project(p, 500, o)


def test_chain_rule_matches_finite_differences():
    rng = np.random.default_rng(1)
    fit = Stage1Fit.from_coef(rng.normal(size=10), 3, "library")
    q = np.array([[2.0, 0.3, -0.5], [0.3, 1.0, 0.2], [-0.5, 0.2, 1.5]])

    def ot(p: np.ndarray) -> float:  # a smooth closed-form OT stand-in of the full p
        return float(p @ q @ p + 0.3 * p[0])

    def model(p: np.ndarray) -> float:
        return fit.predict(p, ot(p))

    p = np.array([0.25, 0.45, 0.3])
    analytic = fit.gradient(p, ot(p), 2 * q @ p + np.array([0.3, 0, 0]))
    h = 1e-6
    fd = np.array([(model(p + h * e) - model(p - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(analytic, fd, atol=1e-6, rtol=1e-6)


def test_bad_fits_raise_typed_errors():
    grid = simplex_grid(3, 10)
    ot = stand_in_ot(grid)
    y = design_matrix(ot, grid) @ true_coef()
    with pytest.raises(ConfigError, match="only 8 pilot mixtures"):
        fit_stage1(ot[:8], grid[:8], y[:8])
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(NonFiniteError, match="mixtures \\[3\\]"):
        fit_stage1(ot, grid, bad)
    off = grid.copy()
    off[0] = [0.7, 0.7, -0.4]
    with pytest.raises(ConfigError, match="negative"):
        fit_stage1(ot, off, y)
    off[0] = [np.nan, 0.5, 0.5]
    with pytest.raises(NonFiniteError):
        fit_stage1(ot, off, y)


def test_predictor_round_trips_through_dict():
    pred, ot0, ot1 = _two_size_predictor()
    again = ProjektorPredictor.from_dict(pred.to_dict())
    p = np.array([0.1, 0.6, 0.3])
    assert again.project(p, 7000, (0.3, 0.25)) == pred.project(p, 7000, (0.3, 0.25))


def test_ridge_zero_is_ols_and_ridge_is_ridge_on_standardised_columns():
    from sklearn.linear_model import Ridge

    grid = simplex_grid(3, 10)
    ot = stand_in_ot(grid)
    y = design_matrix(ot, grid) @ true_coef() + np.random.default_rng(2).normal(0, 0.5, size=len(grid))
    ols = fit_stage1(ot, grid, y)
    np.testing.assert_array_equal(fit_stage1(ot, grid, y, ridge=0.0).coef, ols.coef)
    x = design_matrix(ot, grid)
    scale = x[:, 1:].std(axis=0)
    # sklearn's Ridge on standardised columns with a free intercept, mapped back to raw columns
    ref = Ridge(alpha=3.0).fit(x[:, 1:] / scale, y)
    fit = fit_stage1(ot, grid, y, ridge=3.0)
    np.testing.assert_allclose(fit.coef[1:], ref.coef_ / scale, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.coef[0], ref.intercept_, rtol=1e-9)
    assert fit.ridge == 3.0 and fit.train_mse > ols.train_mse
    # the penalty is on standardised columns: OT in other units gives the same predictions
    fit_units = fit_stage1(1000 * ot, grid, y, ridge=3.0)
    np.testing.assert_allclose(
        [fit_units.predict(p, 1000 * o) for p, o in zip(grid, ot)], [fit.predict(p, o) for p, o in zip(grid, ot)]
    )
    with pytest.raises(ConfigError, match="ridge must be"):
        fit_stage1(ot, grid, y, ridge=-1.0)
    with pytest.raises(ConfigError, match="ridge must be"):
        ProjektorPredictor(ridge=float("nan"))


def test_ridge_predictor_round_trips_and_old_dicts_load_as_ols():
    grid = simplex_grid(3, 10)
    ot0, ot1 = stand_in_ot(grid), 0.9 * stand_in_ot(grid)
    y = {1000: 40 - 5 * ot0 + grid[:, 0], 1500: 42 - 5 * ot1 + grid[:, 0]}
    pred = ProjektorPredictor(ridge=10.0).fit({1000: ot0, 1500: ot1}, grid, y)
    again = ProjektorPredictor.from_dict(pred.to_dict())
    assert again.ridge == 10.0 and all(f.ridge == 10.0 for f in again.fits.values())
    p = np.array([0.1, 0.6, 0.3])
    assert again.project(p, 7000, (0.3, 0.25)) == pred.project(p, 7000, (0.3, 0.25))
    old = ProjektorPredictor().fit({1000: ot0, 1500: ot1}, grid, y).to_dict()
    old.pop("ridge")
    for f in old["fits"].values():
        f.pop("ridge")
    assert ProjektorPredictor.from_dict(old).ridge == 0.0
