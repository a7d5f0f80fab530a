"""DDO fit and solve against the published numbers (specs/autoscale_ddo.md §10, checks 1-7 and 11(i))."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from mixing_golden import ABC, BASE, DDO_GD_12B, DOMAINS, DOWN, SLSQP_12B, UP

from hf_datavalue.core.errors import ConfigError, NonFiniteError, SolverError
from hf_datavalue.mixing import DDO, DDOConfig, LossTable, fit_domain_law, perturbation_plan, solve_mixture


def published_table(x_down: float = 0.2) -> LossTable:
    return LossTable.from_objective_matrix(
        DOMAINS, BASE[7], [r[7] for r in DOWN], [r[7] for r in UP], x_down=x_down, x_up=3.0, budget=1.2e9
    )


def test_mean_column_matches_row_means():
    for row in [BASE, *DOWN, *UP]:
        assert abs(np.mean(row[:7]) - row[7]) <= 0.006


def test_fit_interpolates_and_matches_published_abc():
    table = published_table()
    for d in DOMAINS:
        x, y = table.points(d)
        law = fit_domain_law(x, y, name=d)
        assert max(abs(r) for r in law.residuals) <= 1e-8
        assert abs(float(law(1.0)) - 1.0) <= 1e-8
        a, b, c = ABC[d]
        tol = (0.5, 0.1, 0.01) if d == "GitHub" else (0.05, 0.025, 0.005)
        assert abs(law.a - a) <= tol[0] and abs(law.b - b) <= tol[1] and abs(law.c - c) <= tol[2], (d, law)


def test_solver_from_published_abc_and_kkt_certificate():
    a = [ABC[d][0] for d in DOMAINS]
    b = [ABC[d][1] for d in DOMAINS]
    n, lam = solve_mixture(a, b, lower=0.2)
    w = n / 7
    expected = [0.2321, 0.0286, 0.1820, 0.1685, 0.2646, 0.0910, 0.0332]
    assert np.max(np.abs(w - expected)) <= 6e-5
    assert np.max(np.abs(w - DDO_GD_12B)) <= 1e-3
    assert np.max(np.abs(w - SLSQP_12B)) <= 1e-3
    assert w[1] == pytest.approx(0.2 / 7, abs=1e-15)  # GitHub sits on the bound
    assert abs(n.sum() - 7) <= 1e-12 * 7
    g = np.asarray(b) * (n + np.asarray(a)) ** (-np.asarray(b) - 1)
    free = n > 0.2 + 1e-12
    assert np.max(np.abs(g[free] / g[free][0] - 1)) <= 1e-9
    assert np.all(g[~free] <= g[free][0] * (1 + 1e-9))
    assert lam == pytest.approx(g[free][0], rel=1e-9)


def test_end_to_end_from_the_published_matrix():
    ddo = DDO(DDOConfig(lower=0.2))
    w = ddo.fit(published_table())
    assert np.max(np.abs(np.asarray(w.as_list(DOMAINS)) - DDO_GD_12B)) <= 0.004
    assert (
        np.max(np.abs(np.asarray(w.as_list(DOMAINS)) - [0.2310, 0.0286, 0.1815, 0.1684, 0.2635, 0.0916, 0.0354]))
        <= 5e-4
    )
    assert w.predicted_loss == pytest.approx(26.50, abs=0.05)
    assert w.unit == "tokens" and w.budget == 1.2e9 and w.provenance["method"] == "ddo"
    assert ddo.result_ is not None and set(ddo.result_.laws) == set(DOMAINS)


def test_perturbed_abscissa_raises_b():
    base = {d: fit_domain_law(*published_table().points(d)).b for d in DOMAINS}
    third = {d: fit_domain_law(*published_table(1 / 3).points(d)).b for d in DOMAINS}
    for d in ["CC", "Books", "Wiki", "C4", "SE", "ArXiv"]:
        assert third[d] - base[d] == pytest.approx(0.39, abs=0.03), d


def test_synthetic_ground_truth_fit_and_slsqp():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    m = 6
    a = rng.uniform(1, 5, m)
    b = rng.uniform(0.8, 2.5, m)
    xs = np.array([0.2, 1.0, 3.0])
    for ai, bi in zip(a, b):
        ci = 1 - (1 + ai) ** (-bi)
        law = fit_domain_law(xs, (xs + ai) ** (-bi) + ci)
        assert law.a == pytest.approx(ai, abs=1e-8) and law.b == pytest.approx(bi, abs=1e-8)
        assert law.c == pytest.approx(ci, abs=1e-8)
    n, _ = solve_mixture(a, b, lower=0.2)
    res = minimize(
        lambda v: np.sum((v + a) ** (-b)),
        np.ones(m),
        method="SLSQP",
        bounds=[(0.2, None)] * m,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - m}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert np.max(np.abs(n - res.x)) <= 1e-6


def test_more_than_three_points_least_squares():
    x = np.array([0.2, 0.5, 1.0, 2.0, 3.0])
    y = (x + 2.0) ** -1.5 + 0.7 + np.array([1e-4, -1e-4, 0, 1e-4, -1e-4])
    law = fit_domain_law(x, y)
    assert law.n_points == 5 and max(abs(r) for r in law.residuals) < 1e-3
    assert law.b == pytest.approx(1.5, abs=0.3)


def test_degenerate_and_bad_fits():
    with pytest.raises(SolverError, match="flat"):
        fit_domain_law([0.2, 1.0, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(SolverError, match="distinct"):
        fit_domain_law([1.0, 1.0, 3.0], [1.1, 1.0, 0.9])
    with pytest.raises(NonFiniteError):
        fit_domain_law([0.2, 1.0, 3.0], [float("nan"), 1.0, 0.9])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit_domain_law([0.2, 1.0, 3.0], [0.95, 1.0, 1.02])  # loss grows with more data: warned
    assert any("does not decrease" in str(r.message) for r in rec)
    with pytest.raises(ConfigError):
        solve_mixture([1, 1], [1, 1], lower=1.5)
    with pytest.raises(ConfigError):
        solve_mixture([1, -1], [1, 1])


def test_loss_table_round_trip_and_errors(tmp_path):
    table = published_table()
    table.save(tmp_path / "t.json")
    again = LossTable.load(tmp_path / "t.json")
    assert again == table
    with pytest.raises(ConfigError, match="not one of"):
        LossTable(["a", "b"], [{"name": "x", "perturbed": "c", "multipliers": {"a": 1, "b": 1}}])
    with pytest.raises(ConfigError, match="lacks domain"):
        LossTable(["a", "b"], [{"name": "x", "perturbed": None, "multipliers": {"a": 1}}])
    with pytest.raises(NonFiniteError):
        LossTable(
            ["a", "b"], [{"name": "x", "perturbed": None, "multipliers": {"a": 1, "b": 1}, "objective": float("nan")}]
        )
    with pytest.raises(ConfigError, match="no base run"):
        LossTable(
            ["a", "b"], [{"name": "x", "perturbed": "a", "multipliers": {"a": 3, "b": 1}, "objective": 1.0}]
        ).base_value()
    assert DDOConfig.from_dict(DDOConfig(lower=0.1).to_dict()) == DDOConfig(lower=0.1)


def test_perturbation_plan_modes():
    plan = perturbation_plan(["a", "b", "c"], 300, x_down=0.2, x_up=3.0)
    assert len(plan) == 7 and plan[0].name == "base" and plan[0].amounts == {"a": 100, "b": 100, "c": 100}
    up_a = next(p for p in plan if p.name == "a-up")
    assert up_a.amounts == {"a": 300, "b": 100, "c": 100} and up_a.multipliers["a"] == 3.0
    fixed = perturbation_plan(["a", "b", "c"], 300, mode="fixed_total")
    up_a = next(p for p in fixed if p.name == "a-up")
    assert sum(up_a.amounts.values()) == 300
    assert up_a.multipliers["a"] == pytest.approx(180 / 100)  # (3/5) of 300 against a base share of 100
    zero = perturbation_plan(["a", "b"], 200, x_down=0.0)
    assert next(p for p in zero if p.name == "a-down").multipliers["a"] == pytest.approx(0.05)
    with pytest.raises(ConfigError):
        perturbation_plan(["a"], 100)
    with pytest.raises(ConfigError):
        perturbation_plan(["a", "b"], 100, mode="other")
