"""The quota-exact interleave_datasets: proportions, smoothness, resume, determinism, workers, bad input."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
from datasets import Dataset, IterableDataset
from datasets.distributed import split_dataset_by_node

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, ShapeMismatchError
from hf_datavalue.mixing import MixtureWeights, interleave_datasets
from hf_datavalue.mixing.sampler import SmoothWeightedRoundRobin, swrr_order

SIZES = {"a": 8000, "b": 5000, "c": 3000}
WEIGHTS = {"a": 0.5, "b": 0.3, "c": 0.2}


def domain(name: str, n: int) -> Dataset:
    return Dataset.from_dict({"id": [f"{name}-{i}" for i in range(n)], "domain": [name] * n})


@pytest.fixture(scope="module")
def domains() -> dict[str, Dataset]:
    return {k: domain(k, n) for k, n in SIZES.items()}


def iterable(domains, num_shards=4):
    return {k: v.to_iterable_dataset(num_shards=num_shards) for k, v in domains.items()}


def check_proportions(names, weights=WEIGHTS, tol=0.01):
    counts = Counter(names)
    total = sum(counts.values())
    for d, w in weights.items():
        assert abs(counts[d] / total - w) <= tol, (d, counts[d] / total, w)


def max_prefix_deviation(names, quotas):
    total = sum(quotas.values())
    run = dict.fromkeys(quotas, 0)
    worst = 0.0
    for t, d in enumerate(names, start=1):
        run[d] += 1
        worst = max(worst, max(abs(run[k] - q * t / total) for k, q in quotas.items()))
    return worst


def test_swrr_exact_counts_and_prefix_bound():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.integers(1, 200, size=int(rng.integers(2, 8))).tolist()
        order = swrr_order(q, seed=int(rng.integers(100)))
        assert np.bincount(order, minlength=len(q)).tolist() == q
        assert max_prefix_deviation(order.tolist(), dict(enumerate(q))) <= 2


def test_scheduler_state_round_trip():
    s = SmoothWeightedRoundRobin([5, 3, 2], seed=1)
    head = [s.next() for _ in range(7)]
    state = s.state_dict()
    tail = [s.next() for _ in range(20)]
    s2 = SmoothWeightedRoundRobin([5, 3, 2], seed=1)
    s2.load_state_dict(state)
    assert [s2.next() for _ in range(20)] == tail and len(head) == 7


def test_map_style_10k_draws_exact_and_smooth(domains):
    mixed = interleave_datasets(domains, weights=WEIGHTS, num_examples=10_000, seed=0)
    assert isinstance(mixed, Dataset) and len(mixed) == 10_000
    names = mixed["domain"]
    assert Counter(names) == {"a": 5000, "b": 3000, "c": 2000}
    check_proportions(names, tol=1e-12)
    assert max_prefix_deviation(names, {"a": 5000, "b": 3000, "c": 2000}) <= 2
    for start in range(0, 10_000, 1000):  # any window of 1,000 is within 1% as well
        check_proportions(names[start : start + 1000])
    assert len(set(mixed["id"])) == 10_000  # no repetition


def test_list_input_and_probabilities_alias(domains):
    mixed = interleave_datasets(list(domains.values()), probabilities=[0.5, 0.3, 0.2], seed=0, num_examples=1000)
    assert Counter(mixed["domain"]) == {"a": 500, "b": 300, "c": 200}
    uniform = interleave_datasets(list(domains.values()))  # like datasets: first_exhausted, round-robin
    assert len(uniform) == 9000 and Counter(uniform["domain"]) == {"a": 3000, "b": 3000, "c": 3000}


def test_iterable_matches_map_style_and_10k_draws(domains):
    mixed = interleave_datasets(iterable(domains), weights=WEIGHTS, num_examples=10_000, seed=0)
    assert isinstance(mixed, IterableDataset) and mixed.num_shards == 4
    rows = list(mixed)
    assert len(rows) == 10_000 and len({r["id"] for r in rows}) == 10_000
    assert Counter(r["domain"] for r in rows) == {"a": 5000, "b": 3000, "c": 2000}
    one_shard = interleave_datasets(iterable(domains, 1), weights=WEIGHTS, num_examples=10_000, seed=0)
    mapped = interleave_datasets(domains, weights=WEIGHTS, num_examples=10_000, seed=0)
    assert [r["id"] for r in one_shard] == mapped["id"]  # same algorithm, same stream


def test_open_ended_iterable_stops_on_first_exhausted(domains):
    rows = list(interleave_datasets(iterable(domains, 1), weights=WEIGHTS, seed=3))
    # c (3000 rows, weight 0.2) runs out first: about 15,000 examples, all in proportion
    assert 14_990 <= len(rows) <= 15_005
    check_proportions([r["domain"] for r in rows], tol=0.001)


def test_resume_mid_stream_iterable(domains):
    def build():
        return interleave_datasets(iterable(domains), weights=WEIGHTS, num_examples=10_000, seed=7)

    full = [r["id"] for r in build()]
    ds = build()
    it = iter(ds)
    head = [next(it)["id"] for _ in range(3777)]
    state = ds.state_dict()
    resumed = build()
    resumed.load_state_dict(state)
    tail = [r["id"] for r in resumed]
    assert head + tail == full
    check_proportions([i.split("-")[0] for i in head + tail])
    check_proportions([i.split("-")[0] for i in tail], tol=0.01)


def test_resume_mid_stream_map_style(domains):
    full = interleave_datasets(domains, weights=WEIGHTS, num_examples=10_000, seed=7)
    resumed = interleave_datasets(domains, weights=WEIGHTS, num_examples=10_000, seed=7)
    assert resumed.select(range(4321, 10_000))["id"] == full["id"][4321:]
    check_proportions(full["domain"][4321:])


def test_determinism_under_seed(domains):
    a = interleave_datasets(domains, weights=WEIGHTS, num_examples=2000, seed=1)["id"]
    b = interleave_datasets(domains, weights=WEIGHTS, num_examples=2000, seed=1)["id"]
    c = interleave_datasets(domains, weights=WEIGHTS, num_examples=2000, seed=2)["id"]
    assert a == b and sorted(a) == sorted(c)


def test_dataloader_workers_disjoint_and_proportional(domains):
    from torch.utils.data import DataLoader

    mixed = interleave_datasets(iterable(domains), weights=WEIGHTS, num_examples=10_000, seed=0)
    loader = DataLoader(mixed, batch_size=100, num_workers=2, collate_fn=lambda rows: [r["id"] for r in rows])
    ids = [i for batch in loader for i in batch]
    assert len(ids) == 10_000 and len(set(ids)) == 10_000
    check_proportions([i.split("-")[0] for i in ids])


def test_split_by_node_disjoint_union(domains):
    mixed = interleave_datasets(iterable(domains), weights=WEIGHTS, num_examples=10_000, seed=0)
    per_rank = [[r["id"] for r in split_dataset_by_node(mixed, rank=r, world_size=2)] for r in range(2)]
    union = per_rank[0] + per_rank[1]
    assert len(union) == 10_000 and len(set(union)) == 10_000
    for ids in [*per_rank, union]:
        check_proportions([i.split("-")[0] for i in ids])


def test_token_weights_are_converted(domains):
    w = MixtureWeights({"a": 0.5, "b": 0.25, "c": 0.25}, unit="tokens")
    tpe = {"a": 100.0, "b": 50.0, "c": 25.0}
    mixed = interleave_datasets(domains, weights=w, tokens_per_example=tpe, num_examples=5000)
    counts = Counter(mixed["domain"])
    tokens = {d: counts[d] * tpe[d] for d in counts}
    total = sum(tokens.values())
    assert all(abs(tokens[d] / total - w[d]) < 0.01 for d in w.domains)
    with pytest.raises(ConfigError, match="inconsistent units"):
        interleave_datasets(domains, weights=w)


def test_zero_weight_domain_is_skipped_without_hang(domains):
    w = {"a": 0.5, "b": 0.5, "c": 0.0}
    with pytest.warns(UserWarning, match="zero-weight"):
        mixed = interleave_datasets(iterable(domains, 1), weights=w, stopping_strategy="all_exhausted", seed=0)
    names = Counter(r["domain"] for r in mixed)
    assert names["c"] == 0 and names["a"] == names["b"] == 8000  # b repeated until a was exhausted too
    with pytest.warns(UserWarning, match="zero-weight"):
        mapped = interleave_datasets(domains, weights=w, stopping_strategy="all_exhausted")
    assert Counter(mapped["domain"]) == {"a": 8000, "b": 8000}


def test_stopping_strategies_map_style(domains):
    first = interleave_datasets(domains, weights=WEIGHTS)
    assert len(first) == 15_000 and Counter(first["domain"])["c"] == 3000
    every = interleave_datasets(domains, weights=WEIGHTS, stopping_strategy="all_exhausted")
    counts = Counter(every["domain"])  # b (5000 at 0.3) is the last to be exhausted: 16,667 examples
    assert len(every) == 16_667 and all(counts[d] >= n for d, n in SIZES.items())
    check_proportions(every["domain"], tol=1e-4)
    with pytest.warns(UserWarning, match="not in the requested proportions"):
        once = interleave_datasets(domains, weights=WEIGHTS, stopping_strategy="all_exhausted_without_replacement")
    assert sorted(once["id"]) == sorted(i for d in domains.values() for i in d["id"])
    with pytest.warns(UserWarning, match="fewer examples than their quota"):
        short = interleave_datasets(domains, weights=WEIGHTS, num_examples=20_000)
    assert len(short) == 15_000


def test_stopping_without_replacement_iterable(domains):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = list(
            interleave_datasets(
                iterable(domains, 2), weights=WEIGHTS, stopping_strategy="all_exhausted_without_replacement"
            )
        )
    assert len(rows) == 16_000 and len({r["id"] for r in rows}) == 16_000


def test_domain_column(domains):
    plain = {k: v.remove_columns("domain") for k, v in domains.items()}
    mixed = interleave_datasets(plain, weights=WEIGHTS, num_examples=100, domain_column="src")
    assert Counter(mixed["src"]) == {"a": 50, "b": 30, "c": 20}
    it = interleave_datasets(iterable(plain, 2), weights=WEIGHTS, num_examples=100, domain_column="src")
    assert Counter(r["src"] for r in it) == {"a": 50, "b": 30, "c": 20}


def test_bad_inputs(domains):
    with pytest.raises(ConfigError, match="does not have"):
        interleave_datasets(domains, weights={**WEIGHTS, "zzz": 0.1})
    with pytest.raises(ConfigError, match="lacks domain"):
        interleave_datasets(domains, weights={"a": 0.5, "b": 0.5})
    with pytest.raises(ShapeMismatchError):
        interleave_datasets(list(domains.values()), probabilities=[0.5, 0.5])
    with pytest.raises(ConfigError, match="negative"):
        interleave_datasets(domains, weights={"a": -1, "b": 1, "c": 1})
    with pytest.raises(ConfigError, match="all weights are zero"):
        interleave_datasets(domains, weights=dict.fromkeys(domains, 0.0))
    with pytest.raises(ConfigError, match="not both"):
        interleave_datasets(list(domains.values()), probabilities=[1, 1, 1], weights=[1, 1, 1])
    with pytest.raises(ConfigError, match="all datasets must be"):
        interleave_datasets([domains["a"], domains["b"].to_iterable_dataset()])
    with pytest.raises(ConfigError, match="stopping_strategy"):
        interleave_datasets(domains, stopping_strategy="never")
    with pytest.raises(ConfigError, match="dict"):
        interleave_datasets(list(domains.values()), weights=WEIGHTS)
    empty = {**domains, "c": domains["c"].select([])}
    with pytest.raises(EmptyDatasetError, match="empty"):
        interleave_datasets(empty, weights=WEIGHTS)
    nothing = IterableDataset.from_generator(_no_rows, features=domains["c"].features)
    with pytest.raises(EmptyDatasetError, match="empty"):
        list(interleave_datasets({**iterable(domains, 1), "c": nothing}, weights=WEIGHTS))


def _no_rows():
    yield from ()


def test_adapter_to_datasets_interleave(domains):
    import datasets

    from hf_datavalue.mixing.sampler import hf_interleave_kwargs

    kwargs = hf_interleave_kwargs(domains, WEIGHTS, num_examples=10_000, seed=0)
    mixed = datasets.interleave_datasets(**kwargs)
    assert Counter(mixed["domain"]) == {"a": 5000, "b": 3000, "c": 2000}
    it = datasets.interleave_datasets(**hf_interleave_kwargs(iterable(domains), WEIGHTS, num_examples=1000, seed=0))
    assert Counter(r["domain"] for r in it) == {"a": 500, "b": 300, "c": 200}
    with pytest.raises(ConfigError, match="fewer than its quota"):
        hf_interleave_kwargs(domains, WEIGHTS, num_examples=20_000)
