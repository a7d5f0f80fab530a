"""Small labelled feature datasets and marketplaces for the DAM tests."""

from __future__ import annotations

import numpy as np
from datasets import Dataset

from hf_datavalue.dam import DamConfig, Simulator


def blobs(n: int = 1500, d: int = 8, n_classes: int = 3, seed: int = 0) -> Dataset:
    """Gaussian class blobs as a `Dataset` with `embedding` (float32 list) and `label` (int)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.5, (n_classes, d))
    y = rng.integers(0, n_classes, n)
    x = centers[y] + rng.normal(0.0, 1.0, (n, d))
    return Dataset.from_dict({"embedding": x.astype(np.float32), "label": y})


def small_config(**kwargs) -> DamConfig:
    base = {
        "n_marketplaces": 2,
        "n_sellers": 8,
        "buyer_size": 200,
        "min_seller_size": 20,
        "max_seller_size": 120,
        "trials": 3,
    }
    base.update(kwargs)
    return DamConfig(**base)


def small_markets(seed: int = 0, **kwargs):
    return Simulator(small_config(seed=seed, **kwargs)).build(blobs())
