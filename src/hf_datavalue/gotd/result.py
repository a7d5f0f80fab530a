"""The result of a GOT-D run: one score per pool row (and per chunk), its provenance, save/load.

`gotd_score = g - mean(g)` over the scored units, **lower = select first**; a document's score aggregates its
chunks' scores (`chunk_aggregate`), and rows removed by the pre-filter or without text have NaN.

Usage:

```python
from hf_datavalue.gotd import GotdResult, GotdSelector

result = GotdSelector(config).compute(pool, target)
result.save("outputs/gotd/run1")
again = GotdResult.load("outputs/gotd/run1")
best = again.selected_ids(1000)          # row_idx, best first
table = again.to_dataset()               # Dataset(row_idx, gotd_score, n_chunks, [domain], kept)
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError, OutputExistsError, ValueTableError
from ..core.io import read_json, write_json_atomic, write_parquet_atomic
from ..core.provenance import ValueProvenance
from ..core.rows import ROW_KEY
from .config import GotdConfig
from .plots import plot_scores_by_domain
from .scoring import top_k

__all__ = ["SCORE_COLUMN", "SCORE_SEMANTICS", "GotdResult"]

SCORE_COLUMN = "gotd_score"
SCORE_SEMANTICS = "lower = select first"


@dataclass
class GotdResult:
    """GOT-D scores of one pool against one target.

    Attributes:
        row_idx (`np.ndarray`): int64 row keys of the pool rows, in pool order.
        score (`np.ndarray`): float64 `gotd_score` per row (lower = select first; NaN = not scored).
        n_chunks (`np.ndarray`): scored chunks per row.
        kept (`np.ndarray`): False for rows removed by the domain pre-filter.
        row_hash (`np.ndarray`): int64 content hash of each row's text (or embedding), to check a dataset
            against the scored one.
        domain (`np.ndarray`, *optional*): the domain of each row (with `domain_column`).
        chunk_row_idx, chunk_idx, chunk_potential (`np.ndarray`): one entry per scored unit: its row, its chunk
            number and its raw pool potential `g`.
        provenance ([`~hf_datavalue.core.provenance.ValueProvenance`]): what produced the scores.
        config ([`GotdConfig`]): the settings of the run.
    """

    row_idx: np.ndarray
    score: np.ndarray
    n_chunks: np.ndarray
    kept: np.ndarray
    row_hash: np.ndarray
    domain: np.ndarray | None
    chunk_row_idx: np.ndarray
    chunk_idx: np.ndarray
    chunk_potential: np.ndarray
    provenance: ValueProvenance
    config: GotdConfig

    @property
    def chunk_score(self) -> np.ndarray:
        """`g - mean(g)` per scored unit."""
        return self.chunk_potential - float(self.chunk_potential.mean())

    @property
    def solve_info(self) -> dict[str, Any]:
        """OT value, epsilon, iterations, both marginal errors, convergence and timings."""
        return dict(self.provenance.extra.get("solve", {}))

    def to_dataset(self) -> Any:
        """A `Dataset` with one row per pool row: `row_idx`, `gotd_score`, `n_chunks`, [`domain`], `kept`."""
        from datasets import Dataset

        data: dict[str, Any] = {ROW_KEY: self.row_idx, SCORE_COLUMN: self.score, "n_chunks": self.n_chunks}
        if self.domain is not None:
            data["domain"] = self.domain.astype(str).tolist()
        data["kept"] = self.kept
        return Dataset.from_dict(data)

    def chunk_dataset(self) -> Any:
        """A `Dataset` with one row per scored unit: `row_idx`, `chunk_idx`, `gotd_potential` (raw g),
        `gotd_score` (g - mean g)."""
        from datasets import Dataset

        return Dataset.from_dict(
            {
                ROW_KEY: self.chunk_row_idx,
                "chunk_idx": self.chunk_idx,
                "gotd_potential": self.chunk_potential,
                SCORE_COLUMN: self.chunk_score,
            }
        )

    def resolve_k(self, k: int | None) -> int:
        """`k`, or the budget of the config; checked against the pool size."""
        k = self.config.k if k is None else k
        if k is None:
            raise ConfigError("no budget: pass k to select()/fit() or set GotdConfig.k")
        if not isinstance(k, (int, np.integer)) or k <= 0:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        if k > len(self.row_idx):
            raise ConfigError(f"k={k} is larger than the pool ({len(self.row_idx)} rows)")
        return int(k)

    def selected_ids(self, k: int | None = None) -> np.ndarray:
        """The row ids of the `k` best rows, best first (ties broken by row id)."""
        return top_k(self.score, self.resolve_k(k), self.row_idx)

    def scores_of(self, ids: np.ndarray) -> np.ndarray:
        """`gotd_score` of the rows with keys `ids` (unknown keys raise)."""
        order = np.argsort(self.row_idx, kind="stable")
        pos = np.searchsorted(self.row_idx, ids, sorter=order)
        pos = order[np.clip(pos, 0, len(order) - 1)]
        if not np.array_equal(self.row_idx[pos], np.asarray(ids)):
            raise ConfigError("some ids are not rows of this result")
        return self.score[pos]

    def plot_scores_by_domain(self, path: str | os.PathLike[str] | None = None, k: int | None = None) -> Any:
        """Histograms of `gotd_score` per domain with the k-th best score marked; returns the figure."""
        return plot_scores_by_domain(self.score, self.domain, k if k is not None else self.config.k, path)

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write `scores.parquet` (provenance in its schema metadata, plus `row_hash`), `chunk_scores.parquet`,
        `config.json`, `meta.json` and, with domains, `scores_by_domain.png`; atomically.

        Raises [`~hf_datavalue.core.errors.OutputExistsError`] when `output_dir` already holds scores, unless
        `overwrite=True`.
        """
        out = Path(output_dir)
        if (out / "scores.parquet").exists() and not overwrite:
            raise OutputExistsError(f"{out} already holds GOT-D scores; pass overwrite=True or another folder")
        out.mkdir(parents=True, exist_ok=True)
        meta = self.provenance.to_dict()
        table = self.to_dataset().data.table.append_column("row_hash", _int64(self.row_hash))
        write_parquet_atomic(out / "scores.parquet", table, metadata=meta)
        write_parquet_atomic(out / "chunk_scores.parquet", self.chunk_dataset().data.table, metadata=meta)
        self.config.save(out / "config.json")
        write_json_atomic(out / "meta.json", meta)
        if self.domain is not None:
            self.plot_scores_by_domain(out / "scores_by_domain.png")
        return out

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> GotdResult:
        """Read a result written by [`save`]."""
        import pyarrow.parquet as pq

        out = Path(output_dir)
        for name in ("scores.parquet", "chunk_scores.parquet", "config.json", "meta.json"):
            if not (out / name).exists():
                raise ValueTableError(f"{out} holds no GOT-D result: {name} is missing")
        rows = pq.read_table(out / "scores.parquet").to_pydict()
        chunks = pq.read_table(out / "chunk_scores.parquet").to_pydict()
        return cls(
            row_idx=np.asarray(rows[ROW_KEY], dtype=np.int64),
            score=np.asarray(rows[SCORE_COLUMN], dtype=np.float64),
            n_chunks=np.asarray(rows["n_chunks"], dtype=np.int64),
            kept=np.asarray(rows["kept"], dtype=bool),
            row_hash=np.asarray(rows["row_hash"], dtype=np.int64),
            domain=np.asarray(rows["domain"], dtype=object) if "domain" in rows else None,
            chunk_row_idx=np.asarray(chunks[ROW_KEY], dtype=np.int64),
            chunk_idx=np.asarray(chunks["chunk_idx"], dtype=np.int64),
            chunk_potential=np.asarray(chunks["gotd_potential"], dtype=np.float64),
            provenance=ValueProvenance.from_dict(read_json(out / "meta.json")),
            config=GotdConfig.load(out / "config.json"),
        )


def _int64(values: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.array(np.asarray(values, dtype=np.int64), pa.int64())
