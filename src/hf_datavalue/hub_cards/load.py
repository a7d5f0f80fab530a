"""Load published values back, verified, and join them onto a dataset by row key.

[`load_values`] reads `<config>/meta.json` (resolving the revision to a commit sha first, so the metadata and the
parquet always come from the same commit), loads the parquet config with `datasets.load_dataset` and validates it
against the metadata before returning it: column types, row count, finite floats, row keys and a content
checksum. After one load the same call works offline (`HF_HUB_OFFLINE=1`) from the cache.

[`attach_values`] joins the values onto a user's [`~datasets.Dataset`] by `row_idx` (the dataset's own `row_idx`
column when it has one, e.g. after a shuffle, its row positions otherwise) after checking that they belong to it:
same row count, same row-key fingerprint, same source revision, same row contents when the values carry row hashes
(else the same `datasets` fingerprint as the valued split, unless the same Hub commit vouches for it), and no
shuffle of a dataset that has no `row_idx` column. A mismatch raises [`~hf_datavalue.core.errors.RowKeyMismatchError`] unless explicitly overridden.

Usage:

```python
from datasets import load_dataset
from hf_datavalue.hub_cards import attach_values, load_values

train = load_dataset("stanfordnlp/sst2", split="train", revision="<sha>")
values = load_values("me/sst2-values", "lava", revision="lava-v1")
train = attach_values(train, values)                     # adds lava_value, verified
train = load_values("me/sst2-values", "lava", source=train).dataset   # the same in one call
```
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ConfigError, DataValueError, RowKeyMismatchError, ShapeMismatchError, ValueTableError
from ..core.provenance import ValueProvenance
from ..core.rows import ROW_KEY
from .metadata import (
    check_config_name,
    infer_source_revision,
    key_fingerprint,
    row_hashes,
    validate_metadata,
    validate_table,
)
from .push import ROW_HASH_COLUMN

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)

__all__ = ["HubValues", "attach_values", "load_values"]

_MAX_META_BYTES = 4 * 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class HubValues:
    """A verified value table loaded from the Hub.

    Args:
        values ([`~datasets.Dataset`]): the table (`row_idx` plus value columns).
        provenance ([`ValueProvenance`]): how it was computed.
        metadata (`dict`): the full metadata block (provenance plus schema and checksums).
        repo_id (`str`): the values repo.
        config (`str`): the config name.
        revision (`str`): the commit sha the table was read at.
        dataset ([`~datasets.Dataset`], *optional*): the source with the values attached, when `load_values` was
            given `source=`.
    """

    values: Dataset
    provenance: ValueProvenance
    metadata: dict[str, Any] = field(repr=False)
    repo_id: str = ""
    config: str = ""
    revision: str | None = None
    dataset: Dataset | None = field(default=None, repr=False)

    @property
    def score_column(self) -> str:
        return self.provenance.score_column


def _read_meta(path: str | Path, config: str) -> dict[str, Any]:
    path = Path(path)
    if path.stat().st_size > _MAX_META_BYTES:
        raise ValueTableError(f"{config}/meta.json is larger than {_MAX_META_BYTES} bytes; refusing to parse it")
    try:
        block = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueTableError(f"{config}/meta.json is not valid JSON: {err}") from err
    return validate_metadata(block, config=config)


def load_values(
    repo_id: str,
    config: str,
    revision: str | None = None,
    *,
    source: Dataset | None = None,
    token: str | bool | None = None,
    source_revision: str | None = None,
    allow_revision_mismatch: bool = False,
    allow_row_mismatch: bool = False,
) -> HubValues:
    """Load the values config `config` of `repo_id`, verified against its metadata.

    Args:
        repo_id (`str`): the values repo.
        config (`str`): the config name (`lava`, `gotd`, ...); `datasets.get_dataset_config_names` lists them.
        revision (`str`, *optional*): a branch, tag (e.g. `lava-v1`) or commit sha; defaults to `main`.
        source ([`~datasets.Dataset`], *optional*): attach the values to this dataset (see [`attach_values`]) and
            return it as `.dataset`.
        token (`str` or `bool`, *optional*): a Hub token for private repos. Never logged.
        source_revision, allow_revision_mismatch, allow_row_mismatch: passed to [`attach_values`].

    Returns:
        [`HubValues`]: the table, its provenance and the commit sha it was read at.

    Raises:
        [`ValueTableError`], [`~hf_datavalue.core.errors.ShapeMismatchError`],
        [`~hf_datavalue.core.errors.NonFiniteError`], [`RowKeyMismatchError`]: the remote table is malformed,
            truncated or corrupted.
    """
    import datasets
    from huggingface_hub import HfApi

    check_config_name(config)
    api = HfApi(endpoint=str(datasets.config.HF_ENDPOINT), token=token, library_name="hf_datavalue")
    from huggingface_hub.errors import (
        HFValidationError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = revision or "main"
    try:
        meta_path = api.hf_hub_download(repo_id, f"{config}/meta.json", repo_type="dataset", revision=revision)
    except RemoteEntryNotFoundError as err:
        raise ValueTableError(
            f"{repo_id} has no {config}/meta.json at {at}: the config was not published with "
            "hf_datavalue (read it with datasets.load_dataset, unverified) or the name is wrong"
        ) from err
    except RevisionNotFoundError as err:
        raise ConfigError(f"{repo_id} has no revision {at!r}: check the branch, tag or commit sha") from err
    except RepositoryNotFoundError as err:  # also gated/private repos without a token
        raise ConfigError(
            f"values repo {repo_id!r} (or its {config}/meta.json at {at}) not found on the Hub, or private and no "
            "token: check the repo id and config, or log in with `hf auth login`"
        ) from err
    except HFValidationError as err:
        raise ConfigError(f"{repo_id!r} is not a valid Hub repo id (org/name)") from err
    except LocalEntryNotFoundError as err:
        raise ConfigError(
            f"{repo_id} {config}/meta.json at {at} is not in the local cache and the Hub cannot be reached "
            "(HF_HUB_OFFLINE=1 or no network): go online once, or check the repo, config and revision"
        ) from err
    # the snapshot folder is named after the commit: load the parquet at exactly that commit
    snapshot = Path(meta_path).parent.parent.name
    sha = snapshot if _SHA_RE.match(snapshot) else revision
    block = _read_meta(meta_path, config)
    errors = datasets.exceptions
    try:
        table = datasets.load_dataset(repo_id, config, split="train", revision=sha, token=token)
    except errors.SplitsVerificationError as err:
        raise ShapeMismatchError(
            f"{repo_id} config {config!r} at {sha} does not hold the rows its card lists: {err}"
        ) from err
    except (errors.DatasetBuildError, errors.CastError, errors.DataFilesNotFoundError, ValueError) as err:
        raise ValueTableError(f"{repo_id} config {config!r} at {sha} could not be read as parquet: {err}") from err
    validate_table(table, block)
    result = HubValues(
        values=table,
        provenance=ValueProvenance.from_dict(block),
        metadata=block,
        repo_id=repo_id,
        config=config,
        revision=sha,
    )
    logger.info("loaded %d verified rows of %s/%s at %s", len(table), repo_id, config, sha)
    if source is not None:
        result.dataset = attach_values(
            source,
            result,
            source_revision=source_revision,
            allow_revision_mismatch=allow_revision_mismatch,
            allow_row_mismatch=allow_row_mismatch,
        )
    return result


def attach_values(
    dataset: Dataset,
    values: HubValues | Dataset,
    provenance: ValueProvenance | dict[str, Any] | None = None,
    *,
    columns: list[str] | None = None,
    source_revision: str | None = None,
    allow_revision_mismatch: bool = False,
    allow_row_mismatch: bool = False,
) -> Dataset:
    """Join value columns onto `dataset` by row key, after checking that the values belong to it.

    The key of each row of `dataset` is its `row_idx` column when present (add one before shuffling or selecting:
    `ds.add_column("row_idx", range(len(ds)))`), its position otherwise.

    Args:
        dataset ([`~datasets.Dataset`]): the rows to attach to.
        values ([`HubValues`] or [`~datasets.Dataset`]): from [`load_values`], or a local table with `provenance`.
        provenance ([`ValueProvenance`] or `dict`, *optional*): required when `values` is a plain `Dataset`.
        columns (`list[str]`, *optional*): value columns to add; defaults to every column but the key and row hash.
        source_revision (`str`, *optional*): commit sha `dataset` was loaded at; read from its cache folder if not
            given. Compared with the recorded `source_revision`.
        allow_revision_mismatch (`bool`, *optional*, defaults to `False`): attach although the revisions differ.
        allow_row_mismatch (`bool`, *optional*, defaults to `False`): attach although row counts, row keys or row
            contents differ; rows without a value get `None`.

    Returns:
        [`~datasets.Dataset`]: `dataset` with the value columns added, row for row.

    Raises:
        [`RowKeyMismatchError`]: other rows, another revision, or changed row contents (and no override).
    """
    from datasets import Dataset, Value

    if isinstance(values, HubValues):
        table, block = values.values, dict(values.metadata)
    elif isinstance(values, Dataset):
        if provenance is None:
            raise DataValueError("attach_values needs `provenance` when `values` is a plain Dataset")
        block = provenance.to_dict() if isinstance(provenance, ValueProvenance) else dict(provenance)
        table = values
    else:
        raise DataValueError(f"values must be HubValues or a datasets.Dataset, got {type(values).__name__}")
    key = block.get("row_key", ROW_KEY)
    if key not in table.column_names:
        raise ValueTableError(f"value table has no row key column {key!r}")
    value_keys = np.asarray(table[key], dtype=np.int64)
    if len(np.unique(value_keys)) != len(value_keys):
        raise RowKeyMismatchError(f"value table repeats {key!r} values; attach needs one value per row")

    # 1. source revision
    recorded = block.get("source_revision")
    actual = source_revision or infer_source_revision(dataset)
    if recorded and actual and recorded != actual:
        message = (
            f"values were computed on source revision {recorded} but the dataset is at {actual}; "
            "load the source at the recorded revision or pass allow_revision_mismatch=True"
        )
        if not allow_revision_mismatch:
            raise RowKeyMismatchError(message)
        logger.warning("attaching anyway: %s", message)
    elif recorded and not actual:
        logger.warning("cannot check the source revision %s: the dataset was not loaded from the Hub", recorded)

    # 2. row keys and counts
    if key in dataset.column_names:
        data_keys = np.asarray(dataset[key], dtype=np.int64)
    else:
        data_keys = np.arange(len(dataset), dtype=np.int64)
    problems = []
    n_rows = block.get("n_rows", len(table))
    if len(dataset) != n_rows:
        problems.append(f"the dataset has {len(dataset)} rows, the values cover {n_rows}")
    elif key_fingerprint(data_keys) != block.get("row_fingerprint", key_fingerprint(value_keys)):
        problems.append(f"the dataset's {key!r} keys differ from the values' (row_fingerprint)")
    order = np.argsort(value_keys, kind="stable")
    sorted_keys = value_keys[order]
    pos = np.searchsorted(sorted_keys, data_keys)
    pos_clipped = np.minimum(pos, max(len(sorted_keys) - 1, 0))
    found = (pos < len(sorted_keys)) & (sorted_keys[pos_clipped] == data_keys) if len(sorted_keys) else pos < 0

    # 3. row contents: row hashes when the values carry them, else the recorded source fingerprint
    hash_columns = block.get("row_hash_columns") or []
    verified = False
    if ROW_HASH_COLUMN in table.column_names and hash_columns and len(dataset) == n_rows:
        if all(c in dataset.column_names for c in hash_columns):
            mine = np.asarray(row_hashes(dataset, hash_columns), dtype=object)
            theirs = np.asarray(table[ROW_HASH_COLUMN], dtype=object)[order][pos_clipped]
            changed = found & (mine != theirs)
            if changed.any():
                first = data_keys[changed][:5].tolist()
                problems.append(
                    f"{int(changed.sum())} rows differ in content from the valued rows (e.g. {key} {first})"
                )
            verified = True
        else:
            missing = [c for c in hash_columns if c not in dataset.column_names]
            problems.append(
                f"the dataset lacks the columns {missing} the values' row hashes cover, so its rows cannot be verified"
            )
    recorded_fp = block.get("source_fingerprint")
    own_fp = getattr(dataset, "_fingerprint", None)
    same_commit = bool(recorded and actual and recorded == actual)  # the same Hub commit vouches for the rows
    if not verified and not problems and recorded_fp and own_fp and recorded_fp != own_fp and not same_commit:
        problems.append(
            f"the dataset's fingerprint {own_fp} differs from the valued source's {recorded_fp} and the values "
            "carry no row hashes to compare contents (push with the source rows to record them)"
        )
    # positions as keys are only right for the rows in their original order
    if key not in dataset.column_names and getattr(dataset, "_indices", None) is not None and not verified:
        problems.append(
            f"the dataset has no {key!r} column but was shuffled or subset (it has an indices mapping), so row "
            f"positions are not row keys; add `ds.add_column({key!r}, range(len(ds)))` before shuffling"
        )
    if problems:
        message = "; ".join(problems) + ". These values may belong to other rows"
        if not allow_row_mismatch:
            raise RowKeyMismatchError(
                message + "; pass allow_row_mismatch=True (CLI: --allow-row-mismatch) to attach them anyway"
            )
        logger.warning("attaching anyway: %s", message)

    # 4. join
    names = columns or [c for c in table.column_names if c not in (key, ROW_HASH_COLUMN)]
    clash = [c for c in names if c in dataset.column_names]
    if clash:
        raise DataValueError(f"dataset already has columns {clash}; remove or rename them before attaching")
    out = dataset
    for name in names:
        if name not in table.column_names:
            raise ValueTableError(f"value table has no column {name!r}")
        column = np.asarray(table[name])[order]
        feature = table.features[name]
        if found.all():
            data: Any = column[pos_clipped]
        else:
            picked = column[pos_clipped] if len(column) else np.empty(len(data_keys), dtype=object)
            data = [v if ok else None for v, ok in zip(picked.tolist(), found.tolist())]
        out = out.add_column(name, data, feature=feature if isinstance(feature, Value) else None)
    return out
