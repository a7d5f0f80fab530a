"""LAVA's entry in the method-contract matrix: scikit-learn's digits (real scans) with flipped labels."""

from __future__ import annotations

import numpy as np
from datasets import Dataset

from hf_datavalue.lava import LavaConfig, LavaValuer
from tests.contract import ContractCase


def _digits(seed: int) -> tuple[Dataset, Dataset]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    train = {"x": x[:120].tolist(), "label": y[:120].tolist()}
    flip = np.random.default_rng(seed).choice(120, 12, replace=False)
    train["label"] = [(lab + 1) % 10 if i in set(flip) else lab for i, lab in enumerate(train["label"])]
    return Dataset.from_dict(train), Dataset.from_dict({"x": x[1500:1600].tolist(), "label": y[1500:1600].tolist()})


def make_contract_case() -> ContractCase:
    def run(seed: int, tmp_path) -> object:
        train, valid = _digits(0)
        return LavaValuer(LavaConfig(embedding_column="x", seed=seed), progress=False).compute(train, valid)

    return ContractCase(
        method="lava",
        run=run,
        n_rows=120,
        bad_config={"eps": -1.0},
        config_kwargs={"lambda_y": 2.0, "embedding_column": "x"},
    )
