"""The `hf_datavalue:` metadata block of a values config, and the checks a value table must pass.

A block is a [`~hf_datavalue.core.provenance.ValueProvenance`] dict plus what is needed to verify the table it
describes without trusting the remote side: the config name, the column schema, whether the row key is unique and a
sha256 over the table's content. The same block goes into the card YAML (`hf_datavalue.<config>`) and into the
sidecar `<config>/meta.json`.

Usage:

```python
import numpy as np
from datasets import Dataset
from hf_datavalue.core.provenance import ValueProvenance, row_key_fingerprint
from hf_datavalue.hub_cards.metadata import build_metadata, validate_metadata, validate_table

values = Dataset.from_dict({"row_idx": np.arange(3), "lava_value": [0.5, -0.25, -0.25]})
prov = ValueProvenance(method="lava", score_column="lava_value", score_semantics="higher = more harmful",
                       n_rows=3, row_fingerprint=row_key_fingerprint(np.arange(3)))
block = validate_metadata(build_metadata(values, prov, config="lava"))
validate_table(values, block)
```
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import (
    ConfigError,
    MissingColumnError,
    NonFiniteError,
    RowKeyMismatchError,
    ShapeMismatchError,
    ValueTableError,
)
from ..core.provenance import ValueProvenance, row_key_fingerprint
from ..core.rows import ROW_KEY, row_hashes

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset

logger = logging.getLogger(__name__)

__all__ = [
    "METADATA_KEY",
    "SCHEMA_VERSION",
    "SUPPORTED_DTYPES",
    "build_metadata",
    "infer_source_revision",
    "key_fingerprint",
    "public_paths",
    "row_hashes",
    "table_sha256",
    "validate_metadata",
    "validate_table",
]

METADATA_KEY = "hf_datavalue"
SCHEMA_VERSION = 1
SUPPORTED_DTYPES = ("int64", "int32", "float64", "float32", "bool", "string")
_CONFIG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_FLOAT = ("float64", "float32")
# a verified/not flag (FastTrack) is a score too; strings and lists are not
_NUMERIC = ("float64", "float32", "int64", "int32", "bool")

# field -> accepted types (None allowed where listed)
_REQUIRED: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "config": (str,),
    "method": (str,),
    "score_column": (str,),
    "score_semantics": (str,),
    "n_rows": (int,),
    "row_key": (str,),
    "row_fingerprint": (str,),
    "unique_row_key": (bool,),
    "columns": (dict,),
    "table_sha256": (str,),
    "params": (dict,),
    "library_version": (str,),
    "created_at": (str,),
}
_OPTIONAL: dict[str, tuple[type, ...]] = {
    "source_repo": (str,),
    "source_config": (str,),
    "source_split": (str,),
    "source_revision": (str,),
    "source_fingerprint": (str,),
    "validation": (dict,),
    "embedder": (dict,),
    "row_hash_columns": (list,),
    "method_version": (str,),
    "extra": (dict,),
}


def check_config_name(config: str) -> str:
    """A config name is a short identifier (`lava`, `lava_r512`, `ddo_weights`); `default` is reserved."""
    if not isinstance(config, str) or not _CONFIG_RE.match(config) or config == "default":
        raise ConfigError(
            f"invalid values config name {config!r}: use letters, digits, '_', '-', '.' and not 'default'"
        )
    return config


def check_revision_sha(revision: str | None, what: str = "source_revision") -> str | None:
    """`None` or a 40-hex commit sha; a branch or tag name makes row indices ambiguous and is refused."""
    if revision is not None and not _SHA_RE.match(revision):
        raise ConfigError(
            f"{what} must be a commit sha (40 hex characters), got {revision!r}; resolve a branch or tag with "
            "`HfApi().dataset_info(repo, revision=...).sha`"
        )
    return revision


def _dtype_of(table: Dataset, column: str) -> str:
    from datasets import Value

    feature = table.features[column]
    if not isinstance(feature, Value):
        raise ValueTableError(f"column {column!r} has type {feature!r}; value tables hold scalar columns only")
    dtype = "string" if feature.dtype in ("string", "large_string") else feature.dtype
    if dtype not in SUPPORTED_DTYPES:
        raise ValueTableError(f"column {column!r} has dtype {dtype!r}; supported: {list(SUPPORTED_DTYPES)}")
    return dtype


def _check_score_dtype(column: str, dtype: str) -> None:
    if dtype not in _NUMERIC:
        raise ValueTableError(
            f"score column {column!r} has dtype {dtype!r}; values must be numeric ({', '.join(_NUMERIC)}): "
            f"cast it, e.g. `values.cast_column({column!r}, Value('float64'))`, after checking that it holds numbers"
        )


def _column_bytes(column: pa.ChunkedArray | pa.Array, dtype: str) -> bytes:
    if dtype == "string":
        return json.dumps(column.to_pylist(), ensure_ascii=False).encode("utf-8")
    if column.null_count:
        raise ValueTableError("value tables may not hold nulls")
    array = column.to_numpy() if hasattr(column, "chunks") else column.to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(array).tobytes()


def key_fingerprint(keys: Any) -> str:
    """[`row_key_fingerprint`] for integer keys; a sha256 over the sorted JSON strings otherwise."""
    array = np.asarray(keys)
    if array.dtype.kind in "iu" or array.size == 0:
        return row_key_fingerprint(array)
    text = json.dumps(sorted(str(k) for k in array.tolist()), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def table_sha256(table: Dataset, row_key: str = ROW_KEY, columns: Iterable[str] | None = None) -> str:
    """A sha256 over the table's columns, rows in a canonical order (stable across shuffles and re-shards)."""
    import pyarrow.compute as pc

    names = sorted(columns if columns is not None else table.column_names)
    data = table.with_format("arrow")[:]
    # order by the row key, then by every other column, so tables with repeated keys hash the same in any order
    keys = ([row_key] if row_key in names else []) + [n for n in names if n != row_key]
    order = pc.sort_indices(data, sort_keys=[(k, "ascending") for k in keys]) if keys else None
    digest = hashlib.sha256()
    for name in names:
        dtype = _dtype_of(table, name)
        column = data.column(name)
        if order is not None:
            column = column.take(order)
        digest.update(f"{name}:{dtype}:{len(column)}\n".encode())
        digest.update(_column_bytes(column, dtype))
    return "sha256:" + digest.hexdigest()


def _is_local_path(text: str) -> bool:
    if text.startswith(("/", "~", "./", "../", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return True
    if "/" not in text and "\\" not in text:
        return False
    try:
        return Path(text).exists()  # a relative path of this machine ("data/train.jsonl"), not a Hub id
    except OSError:
        return False


def public_paths(obj: Any) -> Any:
    """`obj` with every local file path reduced to its file name (recursively through dicts and lists).

    What is published on the Hub never reveals the publisher's folders: an encoder loaded from
    `/home/me/models/minilm` is recorded as `minilm` (its weights are identified by their hash), a source file
    `/data/sst2/train.jsonl` as `train.jsonl`. Hub ids (`org/name`) are kept.
    """
    if isinstance(obj, dict):
        return {k: public_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [public_paths(v) for v in obj]
    if isinstance(obj, str) and _is_local_path(obj):
        name = obj.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return name or "."
    return obj


def build_metadata(
    values: Dataset, provenance: ValueProvenance, config: str, row_hash_columns: list[str] | None = None
) -> dict[str, Any]:
    """The metadata block for `values` (checked against `provenance` first).

    Args:
        values ([`~datasets.Dataset`]): the value table, `provenance.row_key` plus scalar value columns.
        provenance ([`ValueProvenance`]): the method's provenance record.
        config (`str`): the Hub config name the table is published under.
        row_hash_columns (`list[str]`, *optional*): source columns hashed into the `row_hash` column, if any.
    """
    check_config_name(config)
    check_revision_sha(provenance.source_revision)
    row_key = provenance.row_key
    for column in (row_key, provenance.score_column):
        if column not in values.column_names:
            raise MissingColumnError("value table", column, values.column_names)
    columns = {name: _dtype_of(values, name) for name in values.column_names}
    _check_score_dtype(provenance.score_column, columns[provenance.score_column])
    keys = np.asarray(values[row_key])
    if len(values) != provenance.n_rows:
        raise ShapeMismatchError(
            f"value table has {len(values)} rows but its provenance says n_rows={provenance.n_rows}"
        )
    fingerprint = key_fingerprint(keys)
    if fingerprint != provenance.row_fingerprint:
        raise RowKeyMismatchError(
            f"the {row_key!r} column does not match provenance.row_fingerprint; rebuild the provenance from this table"
        )
    block = provenance.to_dict()
    block.update(
        schema_version=SCHEMA_VERSION,
        config=config,
        columns=columns,
        unique_row_key=bool(len(np.unique(keys)) == len(keys)),
        table_sha256=table_sha256(values, row_key),
    )
    if row_hash_columns:
        block["row_hash_columns"] = sorted(row_hash_columns)
    validate_table(values, block)
    return public_paths(json.loads(json.dumps(block)))


def validate_metadata(block: Any, config: str | None = None) -> dict[str, Any]:
    """Check a metadata block's fields and types (as read from `meta.json` or the card); returns it.

    Raises:
        [`ValueTableError`]: a field is missing or has the wrong type, or the block belongs to another config.
    """
    if not isinstance(block, Mapping):
        raise ValueTableError(f"metadata block must be a mapping, got {type(block).__name__}")
    for name, types in _REQUIRED.items():
        value = block.get(name)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ValueTableError(f"metadata field {name!r} is missing or not of type {types[0].__name__}: {value!r}")
    for name, types in _OPTIONAL.items():
        if block.get(name) is not None and not isinstance(block[name], types):
            raise ValueTableError(f"metadata field {name!r} must be {types[0].__name__}, got {block[name]!r}")
    if block["schema_version"] > SCHEMA_VERSION:
        raise ValueTableError(
            f"metadata schema_version {block['schema_version']} is newer than this library understands "
            f"({SCHEMA_VERSION}); upgrade hf_datavalue"
        )
    if config is not None and block["config"] != config:
        raise ValueTableError(f"metadata describes config {block['config']!r}, not {config!r}")
    if block["n_rows"] < 0:
        raise ValueTableError(f"metadata n_rows must be >= 0, got {block['n_rows']}")
    columns = block["columns"]
    for name, dtype in columns.items():
        if dtype not in SUPPORTED_DTYPES:
            raise ValueTableError(f"metadata declares column {name!r} with unsupported dtype {dtype!r}")
    for name in (block["row_key"], block["score_column"]):
        if name not in columns:
            raise ValueTableError(f"metadata column schema lacks {name!r}")
    _check_score_dtype(block["score_column"], columns[block["score_column"]])
    if block.get("source_revision") is not None and not _SHA_RE.match(block["source_revision"]):
        raise ValueTableError(f"metadata source_revision {block['source_revision']!r} is not a commit sha")
    return dict(block)


def validate_table(table: Dataset, block: Mapping[str, Any]) -> None:
    """Check a value table against its metadata: columns and dtypes, row count, finite floats, keys, checksum.

    Raises:
        [`ValueTableError`]: columns or dtypes differ, or the content checksum differs.
        [`ShapeMismatchError`]: the row count differs from `n_rows`.
        [`NonFiniteError`]: a float column holds NaN or infinity.
        [`RowKeyMismatchError`]: the row keys differ from the recorded fingerprint or repeat.
    """
    declared = dict(block["columns"])
    actual = {name: _dtype_of(table, name) for name in table.column_names}
    if actual != declared:
        raise ValueTableError(f"value table columns {actual} differ from the declared schema {declared}")
    if len(table) != block["n_rows"]:
        raise ShapeMismatchError(f"value table has {len(table)} rows, its metadata says n_rows={block['n_rows']}")
    data = table.with_format("numpy")
    for name, dtype in declared.items():
        if dtype in _FLOAT:
            column = np.asarray(data[name])
            bad = ~np.isfinite(column)
            if bad.any():
                raise NonFiniteError(f"column {name!r} holds {int(bad.sum())} non-finite values (NaN or inf)")
    keys = np.asarray(data[block["row_key"]])
    if block["unique_row_key"] and len(np.unique(keys)) != len(keys):
        raise RowKeyMismatchError(f"row key {block['row_key']!r} repeats, but the table declares unique keys")
    if key_fingerprint(keys) != block["row_fingerprint"]:
        raise RowKeyMismatchError(f"row key {block['row_key']!r} does not match the recorded row_fingerprint")
    if table_sha256(table, block["row_key"]) != block["table_sha256"]:
        raise ValueTableError("value table content differs from its recorded table_sha256 (corrupted or edited)")


def infer_source_revision(dataset: Dataset) -> str | None:
    """The Hub commit sha a dataset was loaded at, read from its cache folder name (`.../<config>/<version>/<sha>/`).

    Returns `None` for datasets that were not loaded from the Hub (in memory, local files).
    """
    for entry in getattr(dataset, "cache_files", None) or []:
        parts = str(entry.get("filename", "")).replace("\\", "/").split("/")
        for part in reversed(parts[:-1]):
            if _SHA_RE.match(part):
                return part
    return None
