"""Provenance of a per-example value table: what every method attaches to its output.

The same JSON goes into a local run's `meta.json`, into the parquet schema metadata, and into the Hub card's
`hf_datavalue:` block (see `specs/hub_and_hf_conventions.md` §1.3), so a table can always be checked against
the dataset it is attached to.

Usage:

```python
import numpy as np
from hf_datavalue.core.provenance import ValueProvenance, row_key_fingerprint

prov = ValueProvenance(method="lava", score_column="lava_value", score_semantics="higher = more harmful",
                       n_rows=3, row_fingerprint=row_key_fingerprint(np.arange(3)))
assert ValueProvenance.from_dict(prov.to_dict()) == prov
```
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ValueProvenance", "row_key_fingerprint"]


def row_key_fingerprint(row_idx: Any) -> str:
    """A sha256 over the sorted int64 row keys (order-free: a shuffled table has the same fingerprint)."""
    keys = np.sort(np.asarray(row_idx, dtype=np.int64))
    return "sha256:" + hashlib.sha256(keys.tobytes()).hexdigest()


@dataclass
class ValueProvenance:
    """Where a value table comes from and how to read it.

    Args:
        method (`str`): method name (`"lava"`, `"gotd"`, `"forward_inf"`, ...).
        score_column (`str`): the value column (`"lava_value"`).
        score_semantics (`str`): how to read it (`"higher = more harmful"`).
        n_rows (`int`): rows in the table.
        row_fingerprint (`str`): [`row_key_fingerprint`] of the `row_idx` column.
        params (`dict`, *optional*): the method config as JSON-able dict.
        row_key (`str`, *optional*, defaults to `"row_idx"`): the join key.
        source_fingerprint (`str`, *optional*): the `datasets` fingerprint of the valued split.
        source_repo, source_config, source_split, source_revision (`str`, *optional*): where the source lives on
            the Hub; `source_revision` is a commit sha, never a branch name.
        validation (`dict`, *optional*): the reference/validation set used (name, fingerprint, n_rows).
        embedder (`dict`, *optional*): `{"repo": ..., "revision": ...}` or a description of the features.
        method_version, library_version (`str`, *optional*): versions that produced the table.
        created_at (`str`, *optional*): ISO timestamp, filled at construction.
        extra (`dict`, *optional*): method-specific fields (OT value, timings, ...).
    """

    method: str
    score_column: str
    score_semantics: str
    n_rows: int
    row_fingerprint: str
    params: dict[str, Any] = field(default_factory=dict)
    row_key: str = "row_idx"
    source_fingerprint: str | None = None
    source_repo: str | None = None
    source_config: str | None = None
    source_split: str | None = None
    source_revision: str | None = None
    validation: dict[str, Any] | None = None
    embedder: dict[str, Any] | None = None
    method_version: str = "1"
    library_version: str = ""
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.library_version:
            from .. import __version__

            self.library_version = __version__
        if not self.created_at:
            self.created_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (round-trips through [`from_dict`])."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueProvenance:
        """Build from a dict, ignoring unknown keys written by newer versions."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
