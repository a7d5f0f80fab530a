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

from typing import Any

import numpy as np

from .errors import ShapeMismatchError
from .provenance import row_key_fingerprint

__all__ = ["ROW_KEY", "row_key_fingerprint", "row_keys"]

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
