"""A marketplace from real data (the shared CIFAR-10 subset, 8x8 grey average-pooled pixels): the simulator's
faults are where the answer key says, and the official evaluator ranks a clean purchase above a noisy one."""

from __future__ import annotations

import numpy as np
from datasets import Dataset

from hf_datavalue.dam import DamConfig, Simulator, evaluate
from hf_datavalue.dam.strategies import single_seller_counts


def test_cifar_marketplace_faults_and_scoring(shared_data):
    data = np.load(shared_data / "cifar10_subset" / "cifar10_subset.npz")
    x = data["x_train"][:2000].astype(np.float32).mean(-1).reshape(2000, 8, 4, 8, 4).mean((2, 4)).reshape(2000, -1)
    ds = Dataset.from_dict({"embedding": x / 255.0, "label": data["y_train"][:2000]})
    cfg = DamConfig(n_marketplaces=1, n_sellers=10, buyer_size=400, min_seller_size=150, max_seller_size=300,
                    label_alphas=[10.0], noisy_fraction=0.2, noise_rate=0.8, duplicate_fraction=0.0,
                    offtask_fraction=0.0, trials=3, cost_scale=1.0)  # fmt: skip
    market = Simulator(cfg).build(ds)[0]
    gen = market.generation["sellers"]
    noisy = [g["seller"] for g in gen if g["role"] == "noisy"]
    clean = [g["seller"] for g in gen if g["role"] == "clean"]
    assert len(noisy) == 2 and len(clean) == 8
    for i in noisy:  # 80 % of the labels changed: the revealed summary shows a flat label-feature relation
        assert gen[i]["faulty_rows"] > 0.7 * gen[i]["size"]
    view = market.public
    clean_acc = np.mean([evaluate(market, single_seller_counts(view, i), trials=3).accuracy for i in clean[:3]])
    noisy_acc = np.mean([evaluate(market, single_seller_counts(view, i), trials=3).accuracy for i in noisy])
    assert clean_acc > noisy_acc + 0.05 and clean_acc > 0.15  # 10 classes: chance is 0.1


def test_oracle_best_single_is_the_best_single_seller(shared_data):
    """Spec §10.7: the oracle best single seller (a reference that reads hidden data) >= a random single seller."""
    from hf_datavalue.dam import DamBenchmark

    data = np.load(shared_data / "cifar10_subset" / "cifar10_subset.npz")
    x = data["x_train"][:1500].astype(np.float32).mean(-1).reshape(1500, 8, 4, 8, 4).mean((2, 4)).reshape(1500, -1)
    ds = Dataset.from_dict({"embedding": x / 255.0, "label": data["y_train"][:1500]})
    cfg = DamConfig(n_marketplaces=2, n_sellers=6, buyer_size=300, min_seller_size=100, max_seller_size=200,
                    label_alphas=[0.1], trials=2, cost_scale=0.5)  # fmt: skip
    bench = DamBenchmark(cfg)
    markets = bench.build(ds)
    oracle = bench.oracle_best_single(markets)
    singles = [
        [evaluate(m, single_seller_counts(m.public, i).tolist(), trials=2).accuracy for i in range(6)] for m in markets
    ]
    for score, accs in zip(oracle.scores, singles, strict=True):
        assert score.accuracy == max(accs)
    assert oracle.accuracy >= bench.run(markets, "single_random").accuracy
    assert oracle.strategy == "oracle_best_single"
