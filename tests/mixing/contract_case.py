"""DDO's and AutoScale's entries in the method-contract matrix (the published AutoScale tables)."""

from __future__ import annotations

from hf_datavalue.mixing import DDO, AutoScale, DDOConfig, LossTable, MixtureWeights
from tests.contract import ContractCase
from tests.mixing.mixing_golden import AUTOSCALE_NB, BASE, DOMAINS, DOWN, UP


def _table() -> LossTable:
    return LossTable.from_objective_matrix(
        DOMAINS, BASE[7], [r[7] for r in DOWN], [r[7] for r in UP], x_down=0.2, x_up=3.0, budget=1.2e9
    )


def make_contract_cases() -> list[ContractCase]:
    def run_ddo(seed: int, tmp_path) -> MixtureWeights:
        return DDO(DDOConfig(lower=0.2)).fit(_table())

    def run_autoscale(seed: int, tmp_path) -> MixtureWeights:
        anchors = [MixtureWeights(dict(zip(DOMAINS, AUTOSCALE_NB[b])), budget=b) for b in (0.3, 1.2)]
        return AutoScale(anchors).predict(3.0)

    return [
        ContractCase("ddo", run_ddo, n_rows=len(DOMAINS), key_column="row_idx", bad_config={"lower": 1.5}),
        ContractCase(
            "autoscale",
            run_autoscale,
            n_rows=len(DOMAINS),
            key_column="row_idx",
            bad_config={"available": {"CC": float("nan")}},
            config_kwargs={"allow_repetition": True},
        ),
    ]
