"""Spec §9 check 6: the Duchi projection, and the price/budget-constrained projection."""

from __future__ import annotations

import numpy as np
import pytest

from hf_datavalue.core.errors import ConfigError, NonFiniteError
from hf_datavalue.projektor import check_mixture, project_simplex


def test_projection_properties():
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = rng.normal(size=5) * rng.uniform(0.01, 10)
        p = project_simplex(v)
        assert (p >= 0).all() and abs(p.sum() - 1) <= 1e-12
        np.testing.assert_allclose(project_simplex(p), p, atol=1e-12)  # idempotent
        np.testing.assert_allclose(project_simplex(v + rng.normal() * 3), p, atol=1e-12)  # shift-invariant
        # optimality: no simplex point (a random sample) is closer to v
        q = rng.dirichlet(np.ones(5))
        assert np.linalg.norm(p - v) <= np.linalg.norm(q - v) + 1e-12


def test_budget_projection_meets_the_price_bound():
    rng = np.random.default_rng(1)
    prices = np.array([1.0, 2.0, 4.0])
    for _ in range(100):
        v = rng.normal(size=3)
        p = project_simplex(v, prices=prices, max_price=1.8)
        assert (p >= 0).all() and abs(p.sum() - 1) <= 1e-12
        assert prices @ p <= 1.8 + 1e-9
        free = project_simplex(v)
        if prices @ free <= 1.8:
            np.testing.assert_allclose(p, free, atol=1e-12)
    with pytest.raises(ConfigError, match="cheapest source"):
        project_simplex([0.3, 0.3, 0.4], prices=prices, max_price=0.5)


def test_bad_mixtures_raise():
    with pytest.raises(ConfigError, match="sums to"):
        check_mixture([0.5, 0.6, 0.1])
    with pytest.raises(ConfigError, match="negative"):
        check_mixture([1.2, -0.2, 0.0])
    with pytest.raises(NonFiniteError):
        check_mixture([np.nan, 0.5, 0.5])
    with pytest.raises(NonFiniteError):
        project_simplex([np.nan, 1.0])
