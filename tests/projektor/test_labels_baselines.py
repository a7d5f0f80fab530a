"""Performance labels (resumable), baselines, plots and the result contract round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, NonFiniteError
from hf_datavalue.projektor import ProjektorResult, ProjektorSelection, simplex_grid
from hf_datavalue.projektor.baselines import (
    DataMixingLaw,
    LabelBalanceLaw,
    PowerLawInN,
    RegMixRegressor,
    class_histograms,
)
from hf_datavalue.projektor.labels import PerformanceLabels, logistic_regression_learner

from .helpers import gaussian_sources


class _Killed(RuntimeError):
    pass


def test_labels_resume_after_a_killed_run(tmp_path):
    xs, ys, xv, yv = gaussian_sources(n=50, n_valid=40, d=3)
    base = logistic_regression_learner(xs, ys, xv, yv, max_iter=50)
    calls = {"n": 0}

    def dying(idx, seed):
        calls["n"] += 1
        if calls["n"] == 4:
            raise _Killed("simulated kill")
        return base(idx, seed)

    grid = simplex_grid(3, 2)  # 6 mixtures
    labels = PerformanceLabels([len(x) for x in xs], dying, tmp_path / "labels")
    with pytest.raises(_Killed):
        labels.run(grid, sizes=[40, 60])
    assert len(labels.done()) == 3
    counted = {"n": 0}

    def counting(idx, seed):
        counted["n"] += 1
        return base(idx, seed)

    rows = PerformanceLabels([len(x) for x in xs], counting, tmp_path / "labels").run(grid, sizes=[40, 60])
    assert counted["n"] == 12 - 3 and len(rows) == 12
    fresh = PerformanceLabels([len(x) for x in xs], base, tmp_path / "fresh").run(grid, sizes=[40, 60])
    assert [r["accuracy"] for r in rows] == [r["accuracy"] for r in fresh]  # same seeds, same scores
    p, acc = PerformanceLabels.table(rows, "accuracy", 60)
    assert p.shape == (6, 3) and (acc >= 0).all() and (acc <= 100).all()
    lines = (tmp_path / "labels" / "labels.jsonl").read_text().splitlines()
    assert all("log_loss" in json.loads(line) for line in lines)


def test_labels_reject_bad_input(tmp_path):
    with pytest.raises(EmptyDatasetError):
        PerformanceLabels([10, 0, 5], lambda i, s: {"accuracy": 1.0}, tmp_path / "a")
    labels = PerformanceLabels([10, 10], lambda i, s: {"accuracy": float("nan")}, tmp_path / "b")
    with pytest.raises(NonFiniteError):
        labels.run([[0.5, 0.5]], sizes=[10])
    with pytest.raises(ConfigError):
        labels.run([[0.7, 0.5]], sizes=[10])


def test_baselines_fit_their_own_forms():
    grid = simplex_grid(3, 10)
    truth = 40 + 5 * np.exp(grid @ np.array([1.0, -0.5, 0.3]))
    law = DataMixingLaw().fit(grid, truth)
    np.testing.assert_allclose(law.predict(grid), truth, rtol=1e-4)
    acc0, acc1 = 30 + 10 * grid[:, 0], 33 + 11 * grid[:, 0]
    pl = PowerLawInN().fit({1000: acc0, 1500: acc1})
    np.testing.assert_allclose(pl.predict(1500), acc1)
    b = np.log(acc1 / acc0) / np.log(1.5)
    np.testing.assert_allclose(pl.predict(6000), acc0 * 6**b)
    reg = RegMixRegressor().fit(grid, truth)
    assert np.corrcoef(reg.predict(grid), truth)[0, 1] > 0.9


def test_label_balance_law_reads_the_mixture_class_histogram():
    hist = class_histograms([[0, 0, 0, 1], [1, 1, 1, 2], [2, 2, 2, 0]], 3)
    np.testing.assert_allclose(hist[0], [0.75, 0.25, 0.0])
    q = np.full(3, 1 / 3)
    law = LabelBalanceLaw(hist, q)
    grid = simplex_grid(3, 10)
    kl = law.divergence(grid)
    balanced = law.divergence([[1 / 3, 1 / 3, 1 / 3]])[0]  # its class histogram is exactly q
    assert abs(balanced) < 1e-12 and kl.min() > balanced
    assert kl.min() >= 0 and np.isfinite(kl).all()  # absent classes cost a finite amount
    truth = 80 - 7 * kl
    np.testing.assert_allclose(law.fit(grid, truth).predict(grid), truth, atol=1e-9)
    with pytest.raises(ConfigError, match="outside"):
        class_histograms([[0, 3]], 3)
    with pytest.raises(ConfigError, match="disagree"):
        LabelBalanceLaw(hist, np.full(4, 0.25))
    with pytest.raises(ConfigError, match="2 sources"):
        law.fit(grid[:, :2], truth)


def test_result_contract_round_trip(tmp_path):
    from hf_datavalue.core.mixture import MixtureWeights
    from hf_datavalue.projektor import ProjektorConfig

    w = MixtureWeights({"a": 0.5, "b": 0.3, "c": 0.2}, unit="examples", budget=1000.0, predicted_loss=1.5)
    sel = ProjektorSelection(w, 1.5, [np.full(3, 1 / 3), np.array([0.5, 0.3, 0.2])], [1.6, 1.5], 1000)
    res = ProjektorResult(sel, ProjektorConfig())
    ds = res.to_dataset()
    assert ds["source"] == ["a", "b", "c"] and sum(ds["examples"]) == 1000
    out = res.save(tmp_path / "run")
    again = ProjektorResult.load(out)
    assert again.weights == w and again.selection.predicted == 1.5
    assert res.provenance.n_rows == 3 and res.provenance.row_key == "row_idx"


def test_plots_write_pngs(tmp_path):
    from hf_datavalue.projektor.plots import plot_ot_landscape, plot_predicted_vs_measured

    grid = simplex_grid(3, 10)
    values = np.linalg.norm(grid - np.array([0.4, 0.3, 0.3]), axis=1)
    plot_ot_landscape(grid, values, path=[np.full(3, 1 / 3), np.array([0.4, 0.3, 0.3])], out=tmp_path / "l.png")
    plot_predicted_vs_measured(values, {"a": values + 0.1}, path=tmp_path / "p.png")
    assert (tmp_path / "l.png").stat().st_size > 1000 and (tmp_path / "p.png").stat().st_size > 1000
