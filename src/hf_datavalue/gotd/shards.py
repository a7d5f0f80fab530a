"""The on-disk shard store of a GOT-D run: pool embeddings, row ids and text hashes, then scores, per shard.

Layout under `<output_dir>/`:

```
run_config.json                 # the GotdConfig (+ embedder identity); a different config refuses to resume
shards/embedder.json            # the embedder that produced the shards
shards/pool-00000.npy           # (units, d) float32 embeddings of the kept units of shard 0
shards/pool-00000.parquet       # one row per unit: row_idx, chunk_idx, unit_hash (aligned with the .npy)
shards/rows-00000.parquet       # one row per pool row: row_idx, row_hash, domain, kept
solve.npz / solve.json          # target potentials and the target embeddings they belong to
scores/scores-00000.parquet     # per unit: row_idx, chunk_idx, gotd_potential
```

Each file is written atomically; a shard counts as finished when all its files exist, so an interrupted run
resumes from its finished shards. A finished shard is reused only for the same rows: [`ShardStore.verify_rows`]
compares the row ids, content hashes and pre-filter flags of the pool given now with the stored ones, and the
solve is reused only for the same config, target and shard contents ([`content_fingerprint`]). Shards are
independent files, so under `accelerate launch` every process writes its own shards into the shared folder.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import OutputExistsError, RowKeyMismatchError, ShapeMismatchError
from ..core.io import read_json, write_bytes_atomic, write_json_atomic, write_parquet_atomic
from ..core.rows import ROW_KEY

__all__ = ["ShardStore", "content_fingerprint"]


def content_fingerprint(*arrays: np.ndarray) -> str:
    """A sha256 over the bytes of `arrays` in order (row ids, content hashes, chunk ids, flags...)."""
    h = hashlib.sha256()
    for a in arrays:
        arr = np.ascontiguousarray(np.asarray(a))
        h.update(str((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    return "sha256:" + h.hexdigest()


logger = logging.getLogger(__name__)


class ShardStore:
    """Reads and writes the per-shard files of one run folder.

    Args:
        root (`str` or `Path`): the run folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        (self.root / "shards").mkdir(parents=True, exist_ok=True)
        (self.root / "scores").mkdir(parents=True, exist_ok=True)

    def clear(self) -> None:
        """Delete every shard, score and solve file (a clean start in the same folder)."""
        for sub in ("shards", "scores"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for name in ("solve.npz", "solve.json"):
            (self.root / name).unlink(missing_ok=True)

    def drop_shard(self, i: int) -> None:
        """Delete shard `i` (embeddings, ids, scores) and the solve that used it."""
        for p in (*self._paths(i), self.score_path(i), self.root / "scores" / f"lse-{i:05d}.npy"):
            p.unlink(missing_ok=True)
        for name in ("solve.npz", "solve.json"):
            (self.root / name).unlink(missing_ok=True)

    # -- embedder identity ------------------------------------------------------------------------------------
    def check_embedder(self, description: dict[str, Any]) -> None:
        """Record the embedder, or refuse to mix shards from a different one."""
        path = self.root / "shards" / "embedder.json"
        if path.exists():
            previous = read_json(path)
            if previous != description:
                raise ShapeMismatchError(
                    f"the shards in {path.parent} were embedded with {previous}, not with {description}: pool rows "
                    "embedded with different models cannot be mixed; use another output folder"
                )
        else:
            write_json_atomic(path, description)

    # -- embedding shards -------------------------------------------------------------------------------------
    def _paths(self, i: int) -> tuple[Path, Path, Path]:
        base = self.root / "shards"
        return base / f"pool-{i:05d}.npy", base / f"pool-{i:05d}.parquet", base / f"rows-{i:05d}.parquet"

    def has_shard(self, i: int) -> bool:
        return all(p.exists() for p in self._paths(i))

    def write_shard(self, i: int, embeddings: np.ndarray, units: dict[str, np.ndarray], rows: dict[str, Any]) -> None:
        if len(embeddings) != len(units[ROW_KEY]):
            raise ShapeMismatchError(f"shard {i}: {len(embeddings)} embeddings for {len(units['row_idx'])} units")
        npy, unit_path, row_path = self._paths(i)
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(embeddings, dtype=np.float32))
        # rows last: its presence marks the shard as finished
        write_bytes_atomic(npy, buf.getvalue())
        write_parquet_atomic(unit_path, units)
        write_parquet_atomic(row_path, rows)

    def read_shard(self, i: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        import pyarrow.parquet as pq

        npy, unit_path, row_path = self._paths(i)
        x = np.load(npy)
        units = {k: v.to_numpy(zero_copy_only=False) for k, v in zip(*_columns(pq.read_table(unit_path)))}
        rows = {k: v.to_numpy(zero_copy_only=False) for k, v in zip(*_columns(pq.read_table(row_path)))}
        if len(x) != len(units[ROW_KEY]):
            # the reference's index-misalignment pitfall: never let embeddings and ids drift apart
            raise RowKeyMismatchError(
                f"shard {i}: {len(x)} embeddings but {len(units['row_idx'])} unit ids; delete the shard and resume"
            )
        return x, units, rows

    def read_units(self, i: int) -> dict[str, np.ndarray]:
        """The per-unit table of finished shard `i` (`row_idx`, `chunk_idx`), without the embeddings."""
        import pyarrow.parquet as pq

        tbl = pq.read_table(self._paths(i)[1])
        return {k: v.to_numpy(zero_copy_only=False) for k, v in zip(*_columns(tbl))}

    def read_rows(self, i: int) -> dict[str, np.ndarray]:
        """The per-row table of finished shard `i` (`row_idx`, `row_hash`, `domain`, `kept`)."""
        import pyarrow.parquet as pq

        tbl = pq.read_table(self._paths(i)[2])
        return {k: v.to_numpy(zero_copy_only=False) for k, v in zip(*_columns(tbl))}

    def verify_rows(self, i: int, ids: np.ndarray, row_hash: np.ndarray, kept: np.ndarray) -> None:
        """Raise [`OutputExistsError`] when finished shard `i` was made from other rows than `(ids, row_hash)`
        or under another pre-filter outcome (`kept`)."""
        rows = self.read_rows(i)
        same = (
            len(rows[ROW_KEY]) == len(ids)
            and np.array_equal(rows[ROW_KEY].astype(np.int64), np.asarray(ids, dtype=np.int64))
            and np.array_equal(rows["row_hash"].astype(np.int64), np.asarray(row_hash, dtype=np.int64))
            and np.array_equal(rows["kept"].astype(bool), np.asarray(kept, dtype=bool))
        )
        if not same:
            raise OutputExistsError(
                f"shard {i} in {self.root} was computed from other pool rows than the ones given now (row ids, "
                "contents or the pre-filter differ): the pool changed since that run. Pass overwrite=True "
                "(--overwrite) to recompute, or use another output folder"
            )

    # -- solve ------------------------------------------------------------------------------------------------
    def write_solve(self, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        write_bytes_atomic(self.root / "solve.npz", buf.getvalue())
        write_json_atomic(self.root / "solve.json", info)

    def read_solve(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        if not ((self.root / "solve.npz").exists() and (self.root / "solve.json").exists()):
            return None
        with np.load(self.root / "solve.npz") as data:
            arrays = {k: data[k] for k in data.files}
        return arrays, read_json(self.root / "solve.json")

    # -- score shards -----------------------------------------------------------------------------------------
    def score_path(self, i: int) -> Path:
        return self.root / "scores" / f"scores-{i:05d}.parquet"

    def write_scores(self, i: int, table: dict[str, np.ndarray], lse: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, lse)
        write_bytes_atomic(self.root / "scores" / f"lse-{i:05d}.npy", buf.getvalue())
        write_parquet_atomic(self.score_path(i), table)

    def read_scores(self, i: int) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
        import pyarrow.parquet as pq

        path = self.score_path(i)
        lse_path = self.root / "scores" / f"lse-{i:05d}.npy"
        if not (path.exists() and lse_path.exists()):
            return None
        tbl = pq.read_table(path)
        return {k: v.to_numpy(zero_copy_only=False) for k, v in zip(*_columns(tbl))}, np.load(lse_path)


def _columns(table: Any) -> tuple[list[str], list[Any]]:
    return table.column_names, [table.column(n) for n in table.column_names]
