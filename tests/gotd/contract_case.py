"""GOT-D's entry in the method contract matrix (tests/contract.py)."""

from __future__ import annotations

from typing import Any

from hf_datavalue.gotd import GotdConfig, GotdResult, GotdSelector

from ..contract import ContractCase
from .helpers import TableEmbedder, cat_dog, text_datasets


def _run(seed: int, tmp_path: Any) -> GotdResult:
    pool_x, target_x = cat_dog(57, 3, 10, 10, 4, seed=0)
    pool, target, table = text_datasets(pool_x, target_x)
    cfg = GotdConfig(eps=0.1, eps_mode="absolute", tol=1e-4, max_iter=20_000, progress=False, seed=seed)
    return GotdSelector(cfg, embedder=TableEmbedder(table)).compute(pool, target, k=3)


def make_contract_case() -> ContractCase:
    return ContractCase(
        method="gotd",
        run=_run,
        n_rows=60,
        key_column="row_idx",
        bad_config={"eps": -1.0},
        config_kwargs={"k": 7, "chunk_size": 500, "eps_mode": "absolute"},
    )
