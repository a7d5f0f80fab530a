"""Row identity: the join key of every per-example table, how it is read, and how rows are fingerprinted.

Every per-example output carries `row_idx` (int64): the row's position in the source split at a recorded
revision (`specs/README.md`). A dataset that already has a `row_idx` column (a shuffled or filtered view) keeps
its keys; otherwise the keys are positions.

Usage:

```python
from datasets import Dataset
from hf_datavalue.core.rows import ROW_KEY, row_keys, row_key_fingerprint

ds = Dataset.from_dict({"text": ["a", "b", "c"]})
keys = row_keys(ds)                    # array([0, 1, 2])
fp = row_key_fingerprint(keys[::-1])   # order-free: equals row_key_fingerprint(keys)
```
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import MissingColumnError, ShapeMismatchError
from .provenance import row_key_fingerprint

__all__ = ["ROW_KEY", "hash_values", "row_hashes", "row_key_fingerprint", "row_keys"]

ROW_KEY = "row_idx"


def row_keys(dataset: Any, what: str = "dataset", column: str = ROW_KEY) -> np.ndarray:
    """The int64 row keys of `dataset`: its `column` when present (checked unique), else positions."""
    names = getattr(dataset, "column_names", None) or []
    if column in names:
        keys = np.asarray(dataset[column], dtype=np.int64)
        if len(np.unique(keys)) != len(keys):
            raise ShapeMismatchError(f"the {what}'s {column} column has duplicates; row keys must be unique")
        return keys
    return np.arange(len(dataset), dtype=np.int64)


def _value_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if value is None:
        return b"\x00none"
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) and not isinstance(np.asarray(value).flat[0], str):
        return np.asarray(value, dtype=np.float32).tobytes()
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


def hash_values(values: Iterable[object]) -> np.ndarray:
    """The one content hash of the library: a 64-bit blake2b per value, as int64.

    Texts hash as UTF-8, vectors by their float32 bytes, anything else as canonical JSON. GOT-D checks its shards
    with it; [`row_hashes`] builds the Hub's per-row hashes from it.
    """
    digests = [hashlib.blake2b(_value_bytes(v), digest_size=8).digest() for v in values]
    if not digests:
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(b"".join(digests), dtype="<i8").astype(np.int64)


def row_hashes(dataset: Any, columns: Iterable[str], batch_size: int = 10_000) -> list[str]:
    """A 16-hex content hash per row over `columns` (in sorted order), built from [`hash_values`].

    Used to detect rows that changed under the same row key (`attach_values` refuses them).
    """
    columns = sorted(columns)
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise MissingColumnError("dataset", missing[0], dataset.column_names)
    if not columns:
        return []
    out: list[str] = []
    for batch in dataset.select_columns(columns).iter(batch_size=batch_size):
        per_column = np.stack([hash_values(batch[c]) for c in columns], axis=1).astype("<i8")
        for row in per_column:
            out.append(hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest())
    return out
