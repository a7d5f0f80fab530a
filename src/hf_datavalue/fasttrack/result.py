"""[`FastTrackResult`]: the traces of a FastTrack run, per-query costs, provenance, and explicit save/load.

Layout written by [`FastTrackResult.save`] (no pickle):

```
output_dir/
  traces.parquet        one row per verified pair: query_id, row_idx, cluster_id, verified (= True)
  candidates.parquet    one row per verified candidate pair, verified or not (stage-wise evaluation)
  query_stats.parquet   per query: clusters, candidates, verifier calls, tokens, seconds, failures
  stats.json            totals and means over queries
  config.json           the FastTrackConfig
  meta.json             ValueProvenance (verifier, keyworder, embedder, index, licence)
```

Usage:

```python
from hf_datavalue.fasttrack import FastTrackResult

result = FastTrackResult.load("outputs/trace")
result.returned_sets()["39d6a27a-..."]  # {20126, ...} corpus row positions judged to state the fact
result.stats()["calls_per_query"]
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import OutputExistsError, ValueTableError
from ..core.io import read_json, write_json_atomic, write_parquet_atomic
from ..core.provenance import ValueProvenance, row_key_fingerprint
from ..core.rows import ROW_KEY

__all__ = ["CANDIDATE_COLUMNS", "FastTrackResult", "SCORE_COLUMN", "SCORE_SEMANTICS", "STAT_COLUMNS"]

SCORE_COLUMN = "verified"
SCORE_SEMANTICS = "True = the verifier judged that the training row explicitly states the query fact (support)"
CANDIDATE_COLUMNS = ("query_id", ROW_KEY, "cluster_id", "verified")
STAT_COLUMNS = (
    "query_id",
    "n_keywords",
    "n_clusters",
    "n_candidates",
    "n_verified",
    "batches",
    "calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "verifier_seconds",
    "seconds",
    "parse_failures",
    "retries",
    "truncated",
)
_FILES = ("traces.parquet", "candidates.parquet", "query_stats.parquet", "stats.json", "config.json", "meta.json")


class FastTrackResult:
    """Candidates with verifier decisions, per-query statistics and provenance.

    Args:
        candidates (`pyarrow.Table`): `query_id`, `row_idx`, `cluster_id`, `verified`.
        query_stats (`pyarrow.Table`): one row per query with [`STAT_COLUMNS`].
        config (`dict`): the run's configuration.
        provenance ([`~hf_datavalue.core.provenance.ValueProvenance`], *optional*): built when omitted.
    """

    def __init__(
        self, candidates: Any, query_stats: Any, config: dict[str, Any], provenance: ValueProvenance | None = None
    ) -> None:
        missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.column_names]
        missing += [c for c in STAT_COLUMNS if c not in query_stats.column_names]
        if missing:
            raise ValueTableError(f"a FastTrack result needs the columns {missing}")
        self.candidates = candidates
        self.query_stats = query_stats
        self.config = dict(config)
        self._provenance = provenance or ValueProvenance(
            method="fasttrack",
            score_column=SCORE_COLUMN,
            score_semantics=SCORE_SEMANTICS,
            n_rows=candidates.num_rows,
            row_fingerprint=row_key_fingerprint(np.asarray(candidates.column(ROW_KEY), dtype=np.int64)),
            params=self.config,
        )

    @property
    def provenance(self) -> ValueProvenance:
        return self._provenance

    @property
    def query_ids(self) -> list[str]:
        return [str(q) for q in self.query_stats.column("query_id").to_pylist()]

    def to_dataset(self) -> Any:
        """Every candidate pair as a `datasets.Dataset` (`query_id`, `row_idx`, `cluster_id`, `verified`)."""
        from datasets import Dataset

        return Dataset(self.candidates.select(list(CANDIDATE_COLUMNS)))

    def traces(self) -> Any:
        """The returned pairs only (`verified` is True), as a `pyarrow.Table`."""
        import pyarrow.compute as pc

        return self.candidates.filter(pc.equal(self.candidates.column("verified"), True))

    def returned_sets(self) -> dict[str, set[int]]:
        """query_id -> set of returned row positions (empty set for a query with no verified row)."""
        out: dict[str, set[int]] = {q: set() for q in self.query_ids}
        tr = self.traces()
        for q, r in zip(tr.column("query_id").to_pylist(), tr.column(ROW_KEY).to_pylist()):
            out.setdefault(str(q), set()).add(int(r))
        return out

    def candidate_sets(self) -> dict[str, set[int]]:
        """query_id -> set of candidate row positions (stage-1 output)."""
        out: dict[str, set[int]] = {q: set() for q in self.query_ids}
        c = self.candidates
        for q, r in zip(c.column("query_id").to_pylist(), c.column(ROW_KEY).to_pylist()):
            out.setdefault(str(q), set()).add(int(r))
        return out

    def stats(self) -> dict[str, Any]:
        """Totals and per-query means of the cost counters."""
        n = max(1, self.query_stats.num_rows)
        out: dict[str, Any] = {"n_queries": self.query_stats.num_rows, "n_candidate_pairs": self.candidates.num_rows}
        out["n_traced_pairs"] = self.traces().num_rows
        for col in STAT_COLUMNS[1:]:
            total = float(np.sum(np.asarray(self.query_stats.column(col).to_pylist(), dtype=np.float64)))
            out[f"total_{col}"] = total
            out[f"{col}_per_query"] = total / n
        return out

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write every file of the layout atomically; refuses to replace another run unless `overwrite`."""
        out = Path(output_dir)
        if (out / "traces.parquet").exists() and not overwrite:
            raise OutputExistsError(f"{out} already holds traces; pass overwrite=True or pick another folder")
        out.mkdir(parents=True, exist_ok=True)
        meta = self.provenance.to_dict()
        write_parquet_atomic(out / "candidates.parquet", self.candidates, metadata=meta)
        write_parquet_atomic(out / "query_stats.parquet", self.query_stats, metadata=meta)
        write_json_atomic(out / "stats.json", self.stats())
        write_json_atomic(out / "config.json", self.config)
        write_json_atomic(out / "meta.json", meta)
        write_parquet_atomic(out / "traces.parquet", self.traces(), metadata=meta)  # last: marks completion
        return out

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> FastTrackResult:
        """Read a result written by [`save`]."""
        import pyarrow.parquet as pq

        path = Path(output_dir)
        missing = [f for f in _FILES if not (path / f).is_file()]
        if missing:
            raise ValueTableError(f"{path} is not a complete FastTrack result: missing {missing}")
        return cls(
            pq.read_table(path / "candidates.parquet").replace_schema_metadata(None),
            pq.read_table(path / "query_stats.parquet").replace_schema_metadata(None),
            read_json(path / "config.json"),
            ValueProvenance.from_dict(read_json(path / "meta.json")),
        )
