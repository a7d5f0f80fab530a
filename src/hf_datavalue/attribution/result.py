"""The result of an attribution run: a train x query score matrix plus its files.

Layout written by [`AttributionResult.save`] (no pickle anywhere):

```
output_dir/
  run_config.json      the method and its config (guards the folder against mixing runs)
  scores.safetensors   `scores` (n_train x n_queries, float64), `row_idx`, `base_loss`, `new_loss`
  scores.parquet       long format: row_idx, query_id, score, base_loss, new_loss
  top_k.parquet        per query: query_id, kind (proponent/opponent), rank, row_idx, score
  meta.json            `ValueProvenance` (semantics, config, query ids, timings)
```

Usage:

```python
from hf_datavalue.attribution import AttributionResult

result = AttributionResult.load("outputs/forward_inf/train_end-step100")
result.top_k(5)  # pyarrow table of the 5 strongest proponents and opponents per query
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import NonFiniteError, OutputExistsError, ShapeMismatchError
from ..core.io import atomic_path, prepare_output_dir, read_json, write_json_atomic, write_parquet_atomic
from ..core.provenance import ValueProvenance, row_key_fingerprint
from ..core.rows import ROW_KEY

__all__ = ["AttributionResult"]


@dataclass
class AttributionResult:
    """Scores of every training row for every query (a test example or a group of them).

    Args:
        method (`str`): `"forward_inf"`, `"self_loss"` or `"grad_dot"`.
        scores (`np.ndarray`): `(n_train, n_queries)` float64; column `j` belongs to `query_ids[j]`.
        row_idx (`np.ndarray`): `(n_train,)` int64 row keys of the training rows, ascending.
        query_ids (`list[str]`): one id per column (the test row key, or a group name).
        score_semantics (`str`): how to read a score (`"positive = proponent"`).
        config (`dict`): the method config as a JSON-able dict.
        base_loss (`np.ndarray`, *optional*): `(n_train,)` loss of each training row under the trained model.
        new_loss (`np.ndarray`, *optional*): `(n_train, n_queries)` loss after the update on each query.
        extra (`dict`, *optional*): timings, updated parameter count, mode, ...
    """

    method: str
    scores: np.ndarray
    row_idx: np.ndarray
    query_ids: list[str]
    score_semantics: str
    config: dict[str, Any] = field(default_factory=dict)
    base_loss: np.ndarray | None = None
    new_loss: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64)
        self.row_idx = np.asarray(self.row_idx, dtype=np.int64)
        if self.scores.ndim != 2 or self.scores.shape != (len(self.row_idx), len(self.query_ids)):
            raise ShapeMismatchError(
                f"scores must be (n_train, n_queries) = ({len(self.row_idx)}, {len(self.query_ids)}), "
                f"got {self.scores.shape}"
            )

    @property
    def n_train(self) -> int:
        return int(self.scores.shape[0])

    @property
    def n_queries(self) -> int:
        return int(self.scores.shape[1])

    def check_finite(self) -> None:
        """Raise [`NonFiniteError`] when any score is NaN or infinite (such results are never written)."""
        bad = ~np.isfinite(self.scores)
        if bad.any():
            raise NonFiniteError(
                f"{int(bad.sum())} of {bad.size} {self.method} scores are NaN/inf (config: {self.config}); "
                "lower the learning rate or the number of steps"
            )

    def to_table(self) -> Any:
        """Long-format `pyarrow.Table`: `row_idx`, `query_id`, `score`, `base_loss`, `new_loss`."""
        import pyarrow as pa

        n, m = self.scores.shape
        cols: dict[str, Any] = {
            ROW_KEY: np.repeat(self.row_idx, m),
            "query_id": np.tile(np.asarray(self.query_ids, dtype=object), n),
            "score": self.scores.reshape(-1),
        }
        if self.base_loss is not None:
            cols["base_loss"] = np.repeat(np.asarray(self.base_loss, dtype=np.float64), m)
        if self.new_loss is not None:
            cols["new_loss"] = np.asarray(self.new_loss, dtype=np.float64).reshape(-1)
        return pa.table(cols)

    def to_dataset(self) -> Any:
        """The long-format table of [`to_table`] as a `datasets.Dataset` (one row per training row and query)."""
        from datasets import Dataset

        return Dataset(self.to_table())

    def top_k(self, k: int = 10) -> Any:
        """Per query, the `k` highest scores (`kind="proponent"`) and the `k` lowest (`kind="opponent"`)."""
        import pyarrow as pa

        k = max(1, min(int(k), self.n_train))
        out: dict[str, list[Any]] = {"query_id": [], "kind": [], "rank": [], ROW_KEY: [], "score": []}
        for j, qid in enumerate(self.query_ids):
            col = self.scores[:, j]
            order = np.argsort(-col, kind="stable")
            for kind, idx in (("proponent", order[:k]), ("opponent", order[::-1][:k])):
                for rank, i in enumerate(idx):
                    out["query_id"].append(qid)
                    out["kind"].append(kind)
                    out["rank"].append(rank)
                    out[ROW_KEY].append(int(self.row_idx[i]))
                    out["score"].append(float(col[i]))
        return pa.table(out)

    @property
    def provenance(self) -> ValueProvenance:
        """The [`ValueProvenance`] of the long-format table (what `meta.json` and the Hub card carry)."""
        return ValueProvenance(
            method=self.method,
            score_column="score",
            score_semantics=self.score_semantics,
            n_rows=self.n_train * self.n_queries,  # the long-format table: one row per (training row, query)
            row_fingerprint=row_key_fingerprint(np.repeat(self.row_idx, self.n_queries)),
            params=dict(self.config),
            extra={**self.extra, "query_ids": list(self.query_ids), "n_train": self.n_train},
        )

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False, top_k: int = 10) -> Path:
        """Write the result files into `output_dir` (see the module docstring).

        Raises:
            NonFiniteError: a score is not finite (nothing is written).
            OutputExistsError: the folder already holds results (of this or another run) and `overwrite=False`.
        """
        from safetensors.numpy import save_file

        self.check_finite()
        path = Path(output_dir)
        if (path / "scores.safetensors").exists() and not overwrite:
            raise OutputExistsError(f"{path} already holds attribution results; pick another folder or overwrite=True")
        path = prepare_output_dir(path, run_config={"method": self.method, **self.config}, overwrite=overwrite)
        tensors = {"scores": self.scores, ROW_KEY: self.row_idx}
        if self.base_loss is not None:
            tensors["base_loss"] = np.asarray(self.base_loss, dtype=np.float64)
        if self.new_loss is not None:
            tensors["new_loss"] = np.asarray(self.new_loss, dtype=np.float64)
        prov = self.provenance.to_dict()
        write_json_atomic(path / "meta.json", prov)
        write_parquet_atomic(path / "scores.parquet", self.to_table(), metadata=prov)
        write_parquet_atomic(path / "top_k.parquet", self.top_k(top_k), metadata=prov)
        arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        atomic_path(
            path / "scores.safetensors", lambda tmp: save_file(arrays, str(tmp), metadata={"method": self.method})
        )
        return path

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> AttributionResult:
        """Read a folder written by [`save`]."""
        from safetensors.numpy import load_file

        path = Path(output_dir)
        tensors = load_file(str(path / "scores.safetensors"))
        prov = read_json(path / "meta.json")
        extra = dict(prov.get("extra", {}))
        query_ids = [str(q) for q in extra.pop("query_ids")]
        extra.pop("n_train", None)
        return cls(
            method=prov["method"],
            scores=tensors["scores"],
            row_idx=tensors[ROW_KEY],
            query_ids=query_ids,
            score_semantics=prov["score_semantics"],
            config=prov.get("params", {}),
            base_loss=tensors.get("base_loss"),
            new_loss=tensors.get("new_loss"),
            extra=extra,
        )
