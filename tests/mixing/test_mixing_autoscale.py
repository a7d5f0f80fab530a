"""AutoScale predictor against the published extrapolation (specs/autoscale_ddo.md §10, checks 8-10, 11(ii))."""

from __future__ import annotations

import numpy as np
import pytest
from mixing_golden import AUTOSCALE_NB, DOMAINS, EXTRAPOLATED, GEOMEAN

from hf_datavalue.core.errors import ConfigError
from hf_datavalue.mixing import AutoScale, AutoScaleConfig, MixtureWeights


def anchors() -> list[MixtureWeights]:
    return [MixtureWeights(dict(zip(DOMAINS, AUTOSCALE_NB[b])), budget=b) for b in (0.3, 1.2)]


def test_discrete_rule_reproduces_the_published_extrapolation():
    scaler = AutoScale(anchors())
    ratios = list(scaler.growth_ratios.values())
    assert np.allclose(ratios, [4.187, 4.000, 4.471, 3.414, 4.903, 3.639, 1.680], atol=1e-3)
    for pred, (budget, tol, weights) in zip(scaler.predict_discrete(4), EXTRAPOLATED):
        assert pred.budget == pytest.approx(budget, abs=tol)
        assert np.max(np.abs(np.asarray(pred.as_list(DOMAINS)) - weights)) <= 3e-4


def test_continuous_form():
    scaler = AutoScale(anchors())
    assert scaler.solve_latent(5.0) == pytest.approx(2.0, abs=1e-3)
    at5 = scaler.predict(5.0)
    assert at5.budget == pytest.approx(5.0, rel=1e-12)
    assert np.max(np.abs(np.asarray(at5.as_list(DOMAINS)) - EXTRAPOLATED[0][2])) <= 3e-4
    one = scaler.predict_latent(1.0)
    assert np.allclose(one.as_list(DOMAINS), anchors()[1].as_list(DOMAINS), rtol=1e-12, atol=0)
    assert one.budget == pytest.approx(1.2, rel=1e-12)
    geo = scaler.predict_latent(0.5)
    assert geo.budget == pytest.approx(0.596, abs=1e-3)
    assert np.max(np.abs(np.asarray(geo.as_list(DOMAINS)) - GEOMEAN)) <= 2e-4
    diff = np.abs(np.asarray(geo.as_list(DOMAINS)) - AUTOSCALE_NB[0.6])
    assert diff.max() == pytest.approx(0.0195, abs=1e-3) and DOMAINS[int(diff.argmax())] == "SE"
    assert scaler.predict(0.6).budget == pytest.approx(0.6)  # between the anchors: interpolation


def test_synthetic_offset_free_law_is_exact():
    rng = np.random.default_rng(1)
    m = 5
    beta, gamma = rng.uniform(0.5, 2, m), rng.uniform(0.2, 0.8, m)

    def optimum(budget: float) -> MixtureWeights:
        # beta*gamma*N^(-gamma-1) = lam for every domain, sum N = budget: bisection on log lam
        lo, hi = -60.0, 60.0
        for _ in range(300):
            mid = 0.5 * (lo + hi)
            n = (beta * gamma / np.exp(mid)) ** (1 / (gamma + 1))
            lo, hi = (mid, hi) if n.sum() > budget else (lo, mid)
        n = (beta * gamma / np.exp(0.5 * (lo + hi))) ** (1 / (gamma + 1))
        return MixtureWeights({f"d{i}": v for i, v in enumerate(n / n.sum())}, budget=budget)

    scaler = AutoScale([optimum(1.0), optimum(4.0)])
    for target in (2.0, 16.0, 100.0):
        got, want = scaler.predict(target), optimum(target)
        assert np.allclose(got.as_list(), want.as_list(), rtol=1e-12, atol=0)
    three = AutoScale([optimum(1.0), optimum(4.0), optimum(8.0)])  # > 2 anchors: least squares, exact here
    assert np.allclose(three.predict(16.0).as_list(), optimum(16.0).as_list(), rtol=1e-10)


def test_bad_inputs():
    a = anchors()
    with pytest.raises(ConfigError, match="below the smallest anchor"):
        AutoScale(a).predict(0.1)
    with pytest.raises(ConfigError, match=">= 2 budgets"):
        AutoScale(a[:1])
    with pytest.raises(ConfigError, match="inconsistent units"):
        AutoScale([a[0], MixtureWeights(a[1].weights, unit="examples", budget=1.2)])
    with pytest.raises(ConfigError, match="budget"):
        AutoScale([a[0], MixtureWeights(a[1].weights)])
    with pytest.raises(ConfigError, match="distinct"):
        AutoScale([a[0], a[0]])
    with pytest.raises(ConfigError, match="zero weight"):
        AutoScale([a[0], MixtureWeights({**a[1].weights, "CC": 0.0}, budget=1.2)])
    with pytest.raises(ConfigError, match="does not have"):
        AutoScale([a[0], MixtureWeights({**a[1].weights, "Other": 0.1}, budget=1.2)])


def test_availability_warning_and_opt_in():
    avail = dict.fromkeys(DOMAINS, 1.0)
    with pytest.warns(UserWarning, match="more data than available"):
        AutoScale(anchors(), AutoScaleConfig(available=avail)).predict(5.0)
    AutoScale(anchors(), AutoScaleConfig(available=avail, allow_repetition=True)).predict(5.0)
    cfg = AutoScaleConfig(available=avail)
    assert AutoScaleConfig.from_dict(cfg.to_dict()) == cfg
