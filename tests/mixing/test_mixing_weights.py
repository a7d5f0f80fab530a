"""MixtureWeights: validation, JSON round-trip, unit conversions and quotas."""

from __future__ import annotations

import json
import math

import pytest

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, NonFiniteError
from hf_datavalue.mixing import MixtureWeights, measure_tokens_per_example
from hf_datavalue.mixing.weights import largest_remainder


def test_normalises_and_round_trips(tmp_path):
    w = MixtureWeights({"a": 2, "b": 6, "c": 0}, budget=1e6, provenance={"method": "test"})
    assert w.weights == {"a": 0.25, "b": 0.75, "c": 0.0}
    assert math.fsum(w.as_list()) == 1.0
    w.save(tmp_path / "w.json")
    assert MixtureWeights.load(tmp_path / "w.json") == w
    assert json.loads((tmp_path / "w.json").read_text())["unit"] == "tokens"
    assert MixtureWeights.from_dict(json.loads(json.dumps(w.to_dict()))) == w
    assert w.allocations() == {"a": 250000.0, "b": 750000.0, "c": 0.0}


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ({"a": -1, "b": 2}, ConfigError, "negative"),
        ({"a": float("nan"), "b": 2}, NonFiniteError, "non-finite"),
        ({"a": float("inf"), "b": 2}, NonFiniteError, "non-finite"),
        ({"a": 0, "b": 0}, ConfigError, "all weights are zero"),
        ({}, ConfigError, "no domains"),
    ],
)
def test_bad_weights(weights, error, match):
    with pytest.raises(error, match=match):
        MixtureWeights(weights)


def test_bad_fields():
    with pytest.raises(ConfigError, match="unit"):
        MixtureWeights({"a": 1}, unit="bytes")
    with pytest.raises(ConfigError, match="budget"):
        MixtureWeights({"a": 1}, budget=-5)
    with pytest.raises(ConfigError, match="unknown"):
        MixtureWeights.from_dict({"weights": {"a": 1}, "colour": "red"})


def test_unit_conversions_and_quotas():
    w = MixtureWeights({"wiki": 0.6, "code": 0.4}, unit="tokens", budget=1.2e6)
    t = {"wiki": 300.0, "code": 600.0}
    p = w.to_example_probabilities(t)
    assert p.unit == "examples"
    assert p["wiki"] == pytest.approx(0.75) and p["code"] == pytest.approx(0.25)
    assert p.budget == pytest.approx(1.2e6 * (0.6 / 300 + 0.4 / 600))  # examples
    back = p.to_token_weights(t)
    assert back["wiki"] == pytest.approx(0.6) and back.budget == pytest.approx(1.2e6)
    q = w.to_quotas(10_001, tokens_per_example=t)
    assert sum(q.values()) == 10_001 and q["wiki"] in (7500, 7501)
    with pytest.raises(ConfigError, match="tokens_per_example"):
        w.to_quotas(100)
    with pytest.raises(ConfigError, match="lacks domain"):
        w.to_example_probabilities({"wiki": 3.0})
    with pytest.raises(ConfigError, match="positive"):
        w.to_example_probabilities({"wiki": 3.0, "code": 0.0})
    with pytest.raises(ConfigError, match="token weights"):
        p.to_example_probabilities(t)
    assert MixtureWeights({"a": 1, "b": 1}, unit="examples").to_quotas(3) == {"a": 2, "b": 1}


def test_largest_remainder_is_exact():
    for total in (0, 1, 7, 999, 10_000):
        q = largest_remainder([0.1, 0.2, 0.3, 0.4], total)
        assert sum(q) == total and all(abs(qi - total * wi) < 1 for qi, wi in zip(q, [0.1, 0.2, 0.3, 0.4]))


def test_measure_tokens_per_example():
    from datasets import Dataset

    ds = {"a": Dataset.from_dict({"text": ["x y", "x y z w"]}), "b": [{"text": "x"}, {"text": "y"}]}
    got = measure_tokens_per_example(ds, lambda s: s.split(), sample_size=None)
    assert got == {"a": 3.0, "b": 1.0}
    with pytest.raises(EmptyDatasetError):
        measure_tokens_per_example({"a": Dataset.from_dict({"text": []})}, lambda s: s.split())


def test_plot(tmp_path):
    w = MixtureWeights({"a": 1, "b": 3})
    w.plot(tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 1000
