"""DAM's entry in the method contract matrix: a tiny real run (2 marketplaces x 6 sellers, uniform buyer)."""

from __future__ import annotations

from typing import Any

from hf_datavalue.dam import DamBenchmark, DamConfig, DamResult
from tests.contract import ContractCase
from tests.dam.toy import blobs


def _run(seed: int, tmp_path: Any) -> DamResult:
    config = DamConfig(
        n_marketplaces=2, n_sellers=6, buyer_size=150, min_seller_size=20, max_seller_size=80, trials=2, seed=seed
    )
    bench = DamBenchmark(config)
    return bench.run(bench.build(blobs(n=900)), "uniform")


def make_contract_case() -> ContractCase:
    return ContractCase(
        method="dam",
        run=_run,
        n_rows=2,
        key_column="marketplace",
        bad_config={"alpha": 1.5},
        config_kwargs={"n_sellers": 10, "cost_scale": 0.05, "label_alphas": [0.5]},
    )
