"""Spec §9 check 4 (source gradient), the mass-weighted mode, and bad input to MixtureOT."""

from __future__ import annotations

import numpy as np
import pytest

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, LabelError, NonFiniteError
from hf_datavalue.projektor import MixtureOT, ProjektorConfig, source_gradient

from .helpers import gaussian_sources


def test_source_gradient_formula_and_shift_invariance():
    rng = np.random.default_rng(0)
    f = rng.normal(size=30)
    groups = rng.integers(0, 3, size=30)
    grad = source_gradient(f, groups, 3)
    for i in range(3):
        assert grad[i] == pytest.approx(f[groups == i].mean() - f[groups != i].mean(), rel=1e-12)
    np.testing.assert_allclose(source_gradient(f + 7.5, groups, 3), grad, atol=1e-12)
    assert np.isnan(source_gradient(f[groups < 2], groups[groups < 2], 3)[2])  # absent source: filled by the caller


def test_source_gradient_matches_finite_differences_of_ot():
    xs, ys, xv, yv = gaussian_sources(n=40, n_valid=30, d=3, seed=2)
    cfg = ProjektorConfig(
        eps=0.1, eps_mode="relative", inner_eps=0.1, dtype="float64", tol=1e-12, max_iter=50_000,
        distance="plain", mixture_mode="mass",
    )  # fmt: skip
    ot = MixtureOT(xs, ys, xv, yv, config=cfg)
    p = np.array([0.5, 0.3, 0.2])
    ev = ot.evaluate(p, 100)
    h = 1e-4
    for i in range(3):
        d = -p / (1 - p[i])
        d[i] = 1.0
        up, down = ot.evaluate(p + h * d, 100).plain, ot.evaluate(p - h * d, 100).plain
        fd = (up - down) / (2 * h)
        assert ev.gradient[i] == pytest.approx(fd, rel=1e-5)


def test_debiased_gradient_matches_finite_differences_of_the_divergence():
    """`gradient="debiased"`: `f_αβ − f_αα` is the source gradient of `S = OT(α,β) − ½OT(α,α) − ½OT(β,β)`."""
    xs, ys, xv, yv = gaussian_sources(n=40, n_valid=30, d=3, seed=2)
    cfg = ProjektorConfig(
        eps=0.1, eps_mode="relative", inner_eps=0.1, dtype="float64", tol=1e-10, max_iter=20_000,
        distance="debiased", gradient="debiased", mixture_mode="mass",
    )  # fmt: skip
    ot = MixtureOT(xs, ys, xv, yv, config=cfg)
    p = np.array([0.5, 0.3, 0.2])
    ev = ot.evaluate(p, 100)
    plain = MixtureOT(xs, ys, xv, yv, config=ProjektorConfig.from_dict({**cfg.to_dict(), "gradient": "plain"}))
    assert not np.allclose(ev.gradient, plain.evaluate(p, 100).gradient)  # the self term matters
    h = 1e-4
    for i in range(3):
        d = -p / (1 - p[i])
        d[i] = 1.0
        fd = (ot.evaluate(p + h * d, 100).value - ot.evaluate(p - h * d, 100).value) / (2 * h)
        assert ev.gradient[i] == pytest.approx(fd, rel=1e-5)


def test_mass_mode_agrees_with_resampled_mode_on_average():
    xs, ys, xv, yv = gaussian_sources(n=150, n_valid=100, d=4, seed=3)
    base = {"eps": 0.1, "eps_mode": "relative", "inner_eps": 0.1}
    mass = MixtureOT(xs, ys, xv, yv, config=ProjektorConfig(mixture_mode="mass", **base))
    resampled = MixtureOT(xs, ys, xv, yv, config=ProjektorConfig(mixture_mode="resampled", **base))
    mixtures = np.array([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [1 / 3, 1 / 3, 1 / 3], [0.4, 0.3, 0.3]])
    m_vals = np.array([mass.evaluate(p, 450).value for p in mixtures])
    r_vals = np.array([np.mean([resampled.evaluate(p, 450, seed=s).value for s in range(5)]) for p in mixtures])
    # resampling adds a small positive sampling term; on the scale of the mixture effect the two modes agree
    spread = m_vals.max() - m_vals.min()
    assert np.abs(r_vals - m_vals).max() <= 0.15 * spread
    # the two modes order the mixtures alike
    assert np.argsort(m_vals).tolist() == np.argsort(r_vals).tolist()
    m_grad = mass.evaluate(mixtures[0], 450).gradient
    r_grad = np.mean([resampled.evaluate(mixtures[0], 450, seed=s).gradient for s in range(5)], axis=0)
    assert np.sign(m_grad - m_grad.mean()).tolist() == np.sign(r_grad - r_grad.mean()).tolist()


def test_absent_source_gets_a_c_transform_gradient():
    xs, ys, xv, yv = gaussian_sources(n=60, n_valid=50, d=3, seed=4)
    ot = MixtureOT(xs, ys, xv, yv, config=ProjektorConfig(eps=0.1, eps_mode="relative", distance="plain"))
    ev = ot.evaluate([0.5, 0.5, 0.0], 200)
    assert np.isfinite(ev.gradient).all()


def test_bad_input_raises_typed_errors():
    xs, ys, xv, yv = gaussian_sources(n=30, n_valid=20, d=3)
    with pytest.raises(EmptyDatasetError, match="source 'source_1' is empty"):
        MixtureOT([xs[0], xs[1][:0], xs[2]], [ys[0], ys[1][:0], ys[2]], xv, yv)
    with pytest.raises(LabelError, match="disjoint"):
        MixtureOT(xs, [ys[0], ys[1] + 100, ys[2]], xv, yv)
    bad = xs[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(NonFiniteError):
        MixtureOT([bad, xs[1], xs[2]], ys, xv, yv)
    ot = MixtureOT(xs, ys, xv, yv)
    with pytest.raises(ConfigError, match="sums to"):
        ot.evaluate([0.5, 0.5, 0.5], 100)
    with pytest.raises(NonFiniteError):
        ot.evaluate([np.nan, 0.5, 0.5], 100)
    with pytest.raises(ConfigError, match="eps"):
        ProjektorConfig(eps=0.0)


def test_config_defaults_to_reference_eps_and_round_trips():
    cfg = ProjektorConfig()
    assert cfg.eps == 1e-2 and cfg.method == "projektor"
    again = ProjektorConfig.from_json(ProjektorConfig(reps=3, target="loss").to_json())
    assert again == ProjektorConfig(reps=3, target="loss") and again.sign == -1.0
