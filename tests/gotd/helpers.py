"""Shared helpers of the GOT-D tests: deterministic embedders and the cat/dog data of specs/gotd.md §8.1."""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset

from hf_datavalue.core.embeddings import Embedder


class TableEmbedder(Embedder):
    """Looks texts up in a table (`"p12"` -> a vector); counts calls; can fail after `fail_after` batches."""

    def __init__(self, table: dict[str, np.ndarray], name: str = "table", fail_after: int | None = None):
        self.table = table
        self.name = name
        self.fail_after = fail_after
        self.calls = 0
        self.rows = 0

    def embed(self, batch: list[Any]) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        self.rows += len(batch)
        return np.stack([self.table[str(t)] for t in batch]).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"type": "table", "name": self.name}


def cat_dog(n_a: int, n_b: int, t_a: int, t_b: int, dim: int, seed: int = 0, shift: float = 6.0):
    """Pool: n_a from N(0, I), n_b from N(shift e1, I) (rare, last rows); target t_a / t_b likewise."""
    rng = np.random.default_rng(seed)
    e1 = np.zeros(dim)
    e1[0] = shift
    pool = np.concatenate([rng.normal(size=(n_a, dim)), rng.normal(size=(n_b, dim)) + e1])
    target = np.concatenate([rng.normal(size=(t_a, dim)), rng.normal(size=(t_b, dim)) + e1])
    return pool, target


def knn_tapt(pool: np.ndarray, target: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Distribution matching (TAPT/c): each target point contributes its ceil(k/n) nearest candidates,
    duplicates kept; k picks taken rank by rank over the target points in a seeded random order."""
    per = -(-k // len(target))
    d = ((target[:, None, :] - pool[None, :, :]) ** 2).sum(-1)
    nearest = np.argsort(d, axis=1)[:, :per]
    order = np.random.default_rng(seed).permutation(len(target))
    return nearest[order].T.reshape(-1)[:k]


def text_datasets(pool_x: np.ndarray, target_x: np.ndarray, domains: list[str] | None = None):
    """Datasets whose texts are keys of a TableEmbedder table, with a stable `row_idx` column on the pool."""
    table = {f"p{i}": v for i, v in enumerate(pool_x)} | {f"t{i}": v for i, v in enumerate(target_x)}
    data: dict[str, Any] = {"row_idx": list(range(len(pool_x))), "text": [f"p{i}" for i in range(len(pool_x))]}
    if domains is not None:
        data["domain"] = domains
    pool = Dataset.from_dict(data)
    target = Dataset.from_dict({"text": [f"t{i}" for i in range(len(target_x))]})
    return pool, target, table
