"""DAM checks (specs/dam.md §10): prices and legality, submission files, the score rule on a hand-computed toy,
determinism, summary fidelity, information hiding and bad input."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from hf_datavalue.core.errors import ConfigError, LabelError, NonFiniteError
from hf_datavalue.dam import (
    CountRangeError,
    DamBenchmark,
    DamConfig,
    DamResult,
    OverBudgetError,
    SimulatedMarketplace,
    Simulator,
    SubmissionError,
    check_purchase,
    evaluate,
    get_strategy,
    load_markets,
    load_public_markets,
    official_score,
    read_submission,
    save_markets,
    write_submission,
)
from hf_datavalue.dam.strategies import available_strategies, counts_from_mixture

from .toy import blobs, small_config, small_markets


@pytest.fixture(scope="module")
def markets():
    return small_markets()


def toy_market(budget: float = 40.0) -> SimulatedMarketplace:
    """Seller 0: 10 rows of class 0 at x=-5; seller 1: 20 rows of class 1 at x=+5; buyer: x=-1 (3 rows, class 0),
    x=+1 (1 row, class 1)."""
    s0 = (np.full((10, 1), -5.0), np.zeros(10, int))
    s1 = (np.full((20, 1), 5.0), np.ones(20, int))
    bx, by = np.array([[-1.0], [-1.0], [-1.0], [1.0]]), np.array([0, 0, 0, 1])
    return SimulatedMarketplace.from_arrays(bx, by, [s0[0], s1[0]], [s0[1], s1[1]], budget)


# ------------------------------------------------------------------------------------------ price and legality
def test_price_is_linear_and_whole_seller_costs_100(markets):
    view = markets[0].public
    for i in range(view.n_sellers):
        price = view.getsellerinfo(i)[0]
        n = view.sizes[i]
        assert price(n) == pytest.approx(100.0, rel=1e-12)
        assert price(3) == pytest.approx(3 * price(1), rel=1e-12)


def test_legality_typed_errors(markets):
    view = markets[0].public.with_budget(10.0)
    sizes = view.sizes
    with pytest.raises(OverBudgetError):
        check_purchase(view, sizes.tolist())  # everything: 800 > 10
    too_many = [0] * view.n_sellers
    too_many[0] = int(sizes[0]) + 1
    with pytest.raises(CountRangeError):
        check_purchase(view.with_budget(1e6), too_many)
    with pytest.raises(CountRangeError):
        check_purchase(view, [-1] + [0] * (view.n_sellers - 1))
    with pytest.raises(CountRangeError):
        check_purchase(view, [0.5] + [0] * (view.n_sellers - 1))
    with pytest.raises(SubmissionError):
        check_purchase(view, [0] * (view.n_sellers + 1))
    # exactly at the budget is legal: 10% of seller 0's rows when N_0 is a multiple of 10
    exact = SimulatedMarketplace.from_arrays(
        np.zeros((4, 1)), [0, 1, 0, 1], [np.arange(40.0)[:, None]], [np.arange(40) % 2], budget=25.0
    ).public
    assert check_purchase(exact, [10]).tolist() == [10]
    with pytest.raises(OverBudgetError):
        check_purchase(exact, [11])


def test_submission_round_trip_txt_and_csv(tmp_path, markets):
    purchases = [[1, 2, 3, 0, 0, 0, 0, 4], [0] * 8]
    write_submission(tmp_path / "sub", purchases)
    assert (tmp_path / "sub" / "0.txt").read_text() == "1,2,3,0,0,0,0,4\n"
    assert read_submission(tmp_path / "sub", 2, 8) == purchases
    csv = tmp_path / "csv"
    csv.mkdir()
    for k, p in enumerate(purchases):
        (csv / f"{k}.csv").write_text(",".join(map(str, p)))
    assert read_submission(csv, 2, 8) == purchases
    (csv / "0.csv").write_text("1,2,3\n")
    with pytest.raises(SubmissionError, match="3 entries"):
        read_submission(csv, 2, 8)
    (csv / "0.csv").write_text("1,-2,3,0,0,0,0,0\n")
    with pytest.raises(CountRangeError):
        read_submission(csv, 2, 8)
    (csv / "0.csv").write_text("1,2,3,0,0,0,0,0\n")
    with pytest.raises(SubmissionError, match="no 2.txt"):
        read_submission(csv, 3, 8)


# ------------------------------------------------------------------------------------------ the score rule
def test_score_rule_on_hand_computed_toy():
    m = toy_market(budget=40.0)
    # empty purchase: accuracy 0, all budget unused -> 0.02
    empty = evaluate(m, [0, 0])
    assert empty.accuracy == 0.0 and empty.score == pytest.approx(0.02) and empty.fallback == "empty"
    # single class: predicts class 0 for all buyer rows -> accuracy 3/4; cost 100 * 2/10 = 20 -> half unused
    single = evaluate(m, [2, 0])
    assert single.accuracy == 0.75 and single.cost == pytest.approx(20.0)
    assert single.score == pytest.approx(0.98 * 0.75 + 0.02 * 0.5) and single.fallback == "single_class"
    # both classes, separable at x = 0: LogisticRegression classifies every buyer row -> accuracy 1
    both = evaluate(m, [1, 2])
    cost = 100 * 1 / 10 + 100 * 2 / 20
    assert both.accuracy == 1.0 and both.cost == pytest.approx(cost)
    assert both.score == pytest.approx(0.98 + 0.02 * (40 - cost) / 40) and both.fallback is None
    assert official_score(0.0, 0.0, 10.0) == pytest.approx(0.02)
    assert len(both.accuracies) == 10


def test_sampling_is_with_replacement(markets):
    from hf_datavalue.dam.evaluator import sample_purchase

    m = markets[0]
    counts = np.zeros(m.public.n_sellers, dtype=np.int64)
    counts[0] = m.public.sizes[0]
    x, _ = sample_purchase(m, counts, np.random.default_rng(0))
    assert len(x) == counts[0] and len(np.unique(x, axis=0)) < len(x)


# ------------------------------------------------------------------------------------------ determinism
def test_simulator_and_evaluator_are_deterministic(markets):
    again = small_markets()
    for a, b in zip(markets, again):
        assert a.generation == b.generation
        for sa, sb in zip(a.sellers, b.sellers):
            np.testing.assert_array_equal(sa.features, sb.features)
            np.testing.assert_array_equal(sa.labels, sb.labels)
    other = small_markets(seed=1)
    assert not np.array_equal(other[0].sellers[0].features[:5], markets[0].sellers[0].features[:5])
    counts = get_strategy("uniform").propose(markets[0].public)
    s1, s2 = evaluate(markets[0], counts, seed=3), evaluate(again[0], counts, seed=3)
    assert s1.accuracies == s2.accuracies and s1.score == s2.score


def test_simulator_builds_heterogeneous_sellers(markets):
    gen = markets[0].generation["sellers"]
    roles = [g["role"] for g in gen]
    assert {"noisy", "clean"} <= set(roles)
    sizes = markets[0].public.sizes
    assert sizes.min() >= 20 and sizes.max() <= 120 and len(set(sizes.tolist())) > 1
    dup = [g for g in gen if g["role"] == "duplicate"]
    assert all(g["unique_rows"] < g["size"] for g in dup)
    noisy = [g for g in gen if g["role"] == "noisy"]
    assert all(g["faulty_rows"] > 0 for g in noisy)


# ------------------------------------------------------------------------------------------ summary fidelity
def test_summary_fidelity(markets):
    m = markets[0]
    for i, hidden in enumerate(m.sellers):
        _, summary, samples = m.public.getsellerinfo(i)
        assert summary["row_number"] == len(hidden) and summary["column_number"] == hidden.features.shape[1] + 1
        for c in range(summary["column_number"]):
            h = summary["hist"][str(c)]
            assert len(h["k_size"]) == 10 and sum(h["k_size"]) == len(hidden)
            assert len(h["k_range"]) == 11 and np.all(np.diff(h["k_range"]) > 0)
        x, y = hidden.features.astype(np.float64), hidden.labels.astype(np.float64)
        expected = [np.corrcoef(x[:, j], y)[0, 1] if y.std() > 0 else 0.0 for j in range(x.shape[1])]
        np.testing.assert_allclose(summary["label_correlation"], expected, atol=1e-9)
        assert samples.shape == (5, x.shape[1] + 1)


# ------------------------------------------------------------------------------------------ information hiding
def _reachable_arrays(root, limit: int = 20000) -> list[np.ndarray]:
    seen, stack, arrays = set(), [root], []
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, str, bytes, int, float)):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            arrays.append(obj)
            continue
        if type(obj).__module__.startswith(("hf_datavalue", "builtins")) or isinstance(obj, (dict, list, tuple)):
            stack.extend(gc.get_referents(obj))
    return arrays


def test_getters_never_reveal_hidden_rows(markets):
    m = markets[0]
    view = m.public
    revealed = {tuple(np.round(r, 5)) for s in view.sellers for r in s.sample_features.astype(np.float64)}
    buyer = {tuple(np.round(r, 5)) for r in view.buyer_features.astype(np.float64)}
    hidden = {tuple(np.round(r, 5)) for s in m.sellers for r in s.features.astype(np.float64)} - revealed - buyer
    assert hidden
    outputs = [view.getbuyerdata()] + [view.getsellerinfo(i)[2][:, :-1] for i in range(view.n_sellers)]
    strategy = get_strategy("summary")
    strategy.propose(view)
    for arr in _reachable_arrays(view) + _reachable_arrays(strategy) + outputs:
        if arr.ndim == 2 and arr.shape[1] >= view.buyer_features.shape[1]:
            rows = {tuple(np.round(r[: view.buyer_features.shape[1]], 5)) for r in arr.astype(np.float64)}
            assert not rows & hidden, "a public object exposes hidden seller rows"
    # the public view holds at most 5 rows per seller, nothing else of the sellers
    assert all(len(s.sample_labels) == 5 for s in view.sellers)


def test_public_loading_never_reads_hidden_folder(tmp_path, markets):
    save_markets(markets, tmp_path / "market", small_config())
    full = load_markets(tmp_path / "market")
    np.testing.assert_array_equal(full[1].sellers[3].features, markets[1].sellers[3].features)
    assert full[0].generation == markets[0].generation
    import shutil

    shutil.rmtree(tmp_path / "market" / "hidden")
    views = load_public_markets(tmp_path / "market")
    assert [v.getsellerinfo(2)[1] for v in views] == [m.public.getsellerinfo(2)[1] for m in markets]
    assert views[0].getbudget() == markets[0].public.getbudget()


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input_typed_errors():
    cfg = small_config()
    with pytest.raises(ConfigError, match="cheapest purchase"):
        small_markets()[0].public.with_budget(0.01)  # one row of a 120-row seller costs 0.83
    one_class = blobs().map(lambda r: {"label": 0})
    with pytest.raises(LabelError, match="one class"):
        Simulator(cfg).build(one_class)
    nan = blobs().map(lambda r, i: {"embedding": [float("nan")] * 8 if i == 7 else r["embedding"]}, with_indices=True)
    with pytest.raises(NonFiniteError):
        Simulator(cfg).build(nan)
    with pytest.raises(LabelError, match="disjoint"):
        SimulatedMarketplace.from_arrays(
            np.zeros((4, 2)), [0, 1, 0, 1], [np.ones((10, 2)), np.ones((10, 2))], [np.full(10, 2), [0, 1] * 5], 50.0
        )
    with pytest.raises(ConfigError):
        small_config(alpha=1.5)


# ------------------------------------------------------------------------------------------ allocation and strategies
@pytest.mark.parametrize("seed", range(5))
def test_mixture_conversion_respects_and_spends_budget(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(50, 1000, 20)
    prices = 100.0 / sizes
    p = rng.dirichlet(np.full(20, 0.5))
    for budget in (1.0, 5.0, 10.0, 20.0):
        counts = counts_from_mixture(p, sizes, prices, budget)
        cost = float((counts * prices).sum())
        assert cost <= budget * (1 + 1e-9) and (counts <= sizes).all()
        open_ = (p > 0) & (counts < sizes)
        assert budget - cost < prices[open_].min()  # no chosen seller's row fits in what is left
        if budget >= 10.0:  # rows cost 0.1-2: at 10 and above the granularity allows 99 %
            assert cost >= 0.99 * budget


def test_every_strategy_proposes_a_legal_purchase(markets):
    view = markets[0].public
    light = {"lava": {"pseudo_size": 20}, "projektor": {"pseudo_size": 10, "steps": 3}}  # CPU-fast knobs
    hidden = {tuple(np.round(r, 5)) for s in markets[0].sellers for r in s.features.astype(np.float64)}
    hidden -= {tuple(np.round(r, 5)) for s in view.sellers for r in s.sample_features.astype(np.float64)}
    for name in available_strategies():
        strategy = get_strategy(name, **light.get(name, {}))
        counts = strategy.propose(view)
        n = check_purchase(view, counts)
        assert n.sum() > 0, name
        for arr in _reachable_arrays(strategy):  # spec §10.6: no strategy holds seller data after proposing
            if arr.ndim == 2 and arr.shape[1] == view.buyer_features.shape[1]:
                assert not {tuple(np.round(r, 5)) for r in arr.astype(np.float64)} & hidden, name
    assert get_strategy("uniform").propose(view) == get_strategy("uniform").propose(view)


def test_benchmark_result_round_trip(tmp_path, markets):
    result = DamBenchmark(small_config()).run(markets, "uniform")
    ds = result.to_dataset()
    assert ds["marketplace"] == [0, 1] and len(ds) == 2
    assert result.score == pytest.approx(np.mean(ds["score"]))
    result.save(tmp_path / "r")
    back = DamResult.load(tmp_path / "r")
    assert back.strategy == "uniform" and back.to_dataset()["score"] == ds["score"]
    assert back.config == result.config


def test_contract_case_runs(tmp_path):
    from tests.dam.contract_case import make_contract_case

    case = make_contract_case()
    result = case.run(0, tmp_path)
    ds = result.to_dataset()
    assert len(ds) == case.n_rows and ds[case.key_column] == [0, 1]
    assert result.provenance.method == "dam" and result.provenance.row_key == "marketplace"
    with pytest.raises(ConfigError):
        DamConfig(**case.bad_config)
    cfg = DamConfig(**case.config_kwargs)
    assert DamConfig.from_json(cfg.to_json()) == cfg


def test_projektor_mixture_is_on_the_simplex_and_fits_the_budget(markets):
    view = markets[1].public.with_budget(20.0)
    strategy = get_strategy("projektor", pseudo_size=10, steps=3)
    counts = np.asarray(strategy.propose(view))
    p = np.asarray(strategy.last_mixture)
    assert (p >= 0).all() and p.sum() == pytest.approx(1.0)
    cost = view.cost(counts)
    assert cost <= 20.0 * (1 + 1e-9) and cost >= 0.99 * 20.0 - view.row_prices.max()
    assert counts[p == 0].sum() == 0  # rows only from sellers the mixture chose


def test_registering_a_strategy_makes_it_available(markets):
    from hf_datavalue.dam.strategies import STRATEGIES, Strategy, register_strategy, single_seller_counts

    @register_strategy("cheapest_rows_test")
    class Cheapest(Strategy):
        """Everything from the seller with the cheapest rows."""

        def propose(self, marketplace):
            return single_seller_counts(marketplace, int(marketplace.row_prices.argmin())).tolist()

    try:
        view = markets[0].public
        counts = get_strategy("cheapest_rows_test").propose(view)
        assert counts[int(view.row_prices.argmin())] > 0 and "cheapest_rows_test" in available_strategies()
    finally:
        STRATEGIES.pop("cheapest_rows_test")
