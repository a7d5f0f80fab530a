"""Projektor's entry in the method contract matrix: OT-only selection on three tiny Gaussian sources."""

from __future__ import annotations

from typing import Any

from hf_datavalue.projektor import ProjektorConfig, ProjektorResult, ot_only_selection
from tests.contract import ContractCase
from tests.projektor.helpers import gaussian_sources


def make_contract_case() -> ContractCase:
    def run(seed: int, tmp_path: Any) -> ProjektorResult:
        xs, ys, xv, yv = gaussian_sources(n=40, n_valid=30, d=3, seed=0)
        cfg = ProjektorConfig(eps=0.1, eps_mode="relative", seed=seed, lr=0.05, decay=0.95, normalized_steps=True)
        sel = ot_only_selection(xs, ys, xv, yv, 120, names=["a", "b", "c"], config=cfg, steps=3)
        return ProjektorResult(sel, cfg)

    return ContractCase(
        method="projektor",
        run=run,
        n_rows=3,
        key_column="row_idx",
        bad_config={"eps": -1.0},
        config_kwargs={"reps": 3, "target": "loss", "eps": 0.05},
    )
