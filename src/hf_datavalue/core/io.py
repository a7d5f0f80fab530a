"""Atomic, pickle-free result files and the guarded output folder every method writes into.

Results are written to a temporary file in the same folder and moved into place with `os.replace`, so a
crash never leaves a half-written file behind. [`prepare_output_dir`] refuses to mix two different runs in
one folder unless asked to overwrite.

Usage:

```python
from hf_datavalue.core.io import prepare_output_dir, write_json_atomic

out = prepare_output_dir("outputs/lava/run1", run_config={"eps": 0.1})
write_json_atomic(out / "meta.json", {"n_rows": 10})
```
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import OutputExistsError

__all__ = [
    "atomic_path",
    "prepare_output_dir",
    "read_json",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]


def atomic_path(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call `writer(tmp_path)` and atomically move the result to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_path(path, lambda tmp: tmp.write_bytes(data))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as pretty, key-sorted JSON atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_parquet_atomic(path: str | os.PathLike[str], table: Any, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a `pyarrow.Table` (or anything `pyarrow.table` accepts) to parquet atomically.

    `metadata` is stored as JSON under the schema metadata key `hf_datavalue`, so the file carries its run's
    provenance wherever it goes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tbl = table if isinstance(table, pa.Table) else pa.table(table)
    if metadata is not None:
        existing = dict(tbl.schema.metadata or {})
        existing[b"hf_datavalue"] = json.dumps(metadata, sort_keys=True, default=str).encode("utf-8")
        tbl = tbl.replace_schema_metadata(existing)
    return atomic_path(path, lambda tmp: pq.write_table(tbl, tmp))


def prepare_output_dir(
    path: str | os.PathLike[str], run_config: Mapping[str, Any] | None = None, overwrite: bool = False
) -> Path:
    """Create `path` for a run and guard it against mixing runs.

    A folder that holds a `run_config.json` from a *different* configuration raises [`OutputExistsError`]
    unless `overwrite=True`; the same configuration is accepted, so interrupted runs can resume in place.
    """
    path = Path(path)
    marker = path / "run_config.json"
    if marker.exists() and run_config is not None and not overwrite:
        previous = read_json(marker)
        current = json.loads(json.dumps(dict(run_config), sort_keys=True, default=str))
        if previous != current:
            raise OutputExistsError(
                f"{path} already holds results of another run (its run_config.json differs); "
                "pick another output folder or pass overwrite=True"
            )
    path.mkdir(parents=True, exist_ok=True)
    if run_config is not None:
        write_json_atomic(marker, dict(run_config))
    return path
