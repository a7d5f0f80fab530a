"""Forward-INF's entry in the method-contract matrix: a tiny BERT built from a config."""

from __future__ import annotations

from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores
from tests.attribution.helpers import tiny_bert, token_dataset
from tests.contract import ContractCase


def make_contract_case() -> ContractCase:
    def run(seed: int, tmp_path) -> object:
        model = tiny_bert(seed=0)
        train, test = token_dataset(16, seed=1, text=False), token_dataset(2, seed=2, text=False)
        return forward_inf_scores(model, train, test, ForwardInfConfig(lr=1e-2, batch_size=8))

    return ContractCase(
        method="forward_inf",
        run=run,
        n_rows=16 * 2,  # long format: one row per (training row, query)
        bad_config={"lr": -1.0},
        config_kwargs={"lr": 5e-3, "mode": "group"},
    )
