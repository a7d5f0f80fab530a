from __future__ import annotations

import evaluate
import pytest

from hf_datavalue.core.errors import ConfigError, ShapeMismatchError
from hf_datavalue.fasttrack.evaluation.metrics import ranking_metrics, set_metrics, set_prf
from hf_datavalue.fasttrack.metrics import metric_path


def test_set_prf_hand_computed():
    assert set_prf({1, 2, 3, 4}, {2, 4, 9}) == pytest.approx((0.5, 2 / 3, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)))
    assert set_prf(set(), {1}) == (0.0, 0.0, 0.0)  # empty returned set
    assert set_prf({1}, {1}) == (1.0, 1.0, 1.0)  # single proponent found
    assert set_prf({5, 6}, {1}) == (0.0, 0.0, 0.0)


def test_set_metrics_macro_and_micro():
    m = set_metrics([{1, 2}, set(), {7}], [{2}, {5}, {7, 8}])
    # per query P/R/F1: (0.5, 1, 2/3), (0, 0, 0), (1, 0.5, 2/3)
    assert m["macro_precision"] == pytest.approx(0.5)
    assert m["macro_recall"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx(4 / 9)
    # pooled: 2 hits, 3 returned, 4 proponents
    assert m["micro_precision"] == pytest.approx(2 / 3)
    assert m["micro_recall"] == pytest.approx(0.5)
    assert m["micro_f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    with pytest.raises(ShapeMismatchError):
        set_metrics([{1}], [])


def test_ranking_metrics_hand_computed():
    r = ranking_metrics([[3, 2, 9, 4], [8, 7, 6, 5], [1, 0, 2, 3]], [{2, 4}, {99}, {1}], ks=(1, 3))
    assert r["mrr"] == pytest.approx((1 / 2 + 0 + 1) / 3)  # the proponent 99 is absent from its list
    assert r["precision@1"] == pytest.approx((0 + 0 + 1) / 3)
    assert r["recall@3"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert r["precision@3"] == pytest.approx((1 / 3 + 0 + 1 / 3) / 3)


def test_evaluate_modules_load_offline_and_agree():
    set_metric = evaluate.load(metric_path("fact_tracing_set"))
    out = set_metric.compute(predictions=[[1, 2], [], [7]], references=[[2], [5], [7, 8]])
    assert out["macro_f1"] == pytest.approx(4 / 9)
    ranking = evaluate.load(metric_path("fact_tracing_ranking"))
    out = ranking.compute(predictions=[[3, 2, 9, 4]], references=[[2, 4]], ks=[1, 3])
    assert out["mrr"] == pytest.approx(0.5) and out["recall@3"] == pytest.approx(0.5)
    with pytest.raises(ConfigError):
        metric_path("bleu")
