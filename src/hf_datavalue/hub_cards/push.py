"""Publish a value table on the Hub as one dataset config, with its metadata block and card section.

Two commits, both through `huggingface_hub`/`datasets` (no hand-written HTTP):

1. `Dataset.push_to_hub(repo_id, config_name=<config>, split="train")` writes the parquet shards and the card's
   `configs`/`dataset_info` entries, so anyone can `load_dataset(repo_id, "<config>")` without this library.
2. One `create_commit(parent_commit=<step 1 sha>)` adds `<config>/meta.json`, `<config>/histogram.png` and the card
   with the `hf_datavalue.<config>` block and section. A concurrent commit makes the Hub answer 412; the card is
   then re-read at the new head and the commit retried, so two pushes of different configs never clobber each
   other's card entries.

Usage:

```python
from hf_datavalue.hub_cards import push_values

result = push_values(values, "me/sst2-values", "lava", provenance, source=train)
print(result.commit_sha)
```
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import DataValueError, MissingColumnError, ShapeMismatchError
from ..core.provenance import ValueProvenance
from ..core.registry import MethodResult, result_provenance
from .card import histogram_png, update_card
from .metadata import build_metadata, check_config_name, infer_source_revision, row_hashes

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)

__all__ = ["PushResult", "push_values"]

ROW_HASH_COLUMN = "row_hash"


@dataclass
class PushResult:
    """What [`push_values`] published.

    Args:
        repo_id (`str`): the values repo.
        config (`str`): the config name.
        data_commit (`str`): sha of the `push_to_hub` commit (parquet + `configs` entry).
        commit_sha (`str`): sha of the metadata commit, the revision to pin (`load_values(..., revision=...)`).
        commit_url (`str`): its URL.
        metadata (`dict`): the published block.
        retries (`int`): how many times the metadata commit was retried after a 412.
    """

    repo_id: str
    config: str
    data_commit: str
    commit_sha: str
    commit_url: str
    metadata: dict[str, Any] = field(repr=False)
    retries: int = 0


def _http_status(err: BaseException) -> int | None:
    for candidate in (err, err.__context__, err.__cause__):
        response = getattr(candidate, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _backoff(attempt: int) -> None:
    time.sleep(min(0.1 * 2**attempt, 5.0) * (1 + random.random()))


def _data_files(api: Any, repo_id: str, config: str, revision: str) -> dict[str, str]:
    entries = api.list_repo_tree(repo_id, path_in_repo=config, repo_type="dataset", revision=revision)
    return {e.path: str(getattr(e, "blob_id", "")) for e in entries if e.path.startswith(f"{config}/train-")}


def _endpoint() -> str:
    from datasets import config as ds_config

    return str(ds_config.HF_ENDPOINT)


def _with_row_hashes(values: Dataset, provenance: ValueProvenance, source: Dataset) -> tuple[Dataset, list[str]]:
    """Add a `row_hash` column: a content hash of the source row each value belongs to."""
    key = provenance.row_key
    columns = [c for c in source.column_names if c != key and c != ROW_HASH_COLUMN]
    if not columns:
        return values, []
    if key in source.column_names:
        source_keys = np.asarray(source[key], dtype=np.int64)
    else:
        source_keys = np.arange(len(source), dtype=np.int64)
    hashes = np.asarray(row_hashes(source, columns), dtype=object)
    order = np.argsort(source_keys, kind="stable")
    sorted_keys = source_keys[order]
    wanted = np.asarray(values[key], dtype=np.int64)
    pos = np.searchsorted(sorted_keys, wanted)
    found = (pos < len(sorted_keys)) & (sorted_keys[np.minimum(pos, len(sorted_keys) - 1)] == wanted)
    if not found.all():
        missing = wanted[~found][:5].tolist()
        raise ShapeMismatchError(f"value rows {missing} have no matching row in `source` (by {key!r})")
    if ROW_HASH_COLUMN in values.column_names:
        values = values.remove_columns(ROW_HASH_COLUMN)
    from datasets import Value

    return values.add_column(ROW_HASH_COLUMN, hashes[order][pos].tolist(), feature=Value("string")), columns


def push_values(
    values: Dataset | MethodResult,
    repo_id: str,
    config: str | None = None,
    provenance: ValueProvenance | None = None,
    *,
    source: Dataset | None = None,
    token: str | bool | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
    set_default: bool | None = None,
    histogram: bool = True,
    tag: str | None = None,
    max_retries: int = 8,
) -> PushResult:
    """Publish a value table as config `config` of the dataset repo `repo_id`.

    Args:
        values ([`~datasets.Dataset`] or a method result): `row_idx` (int64) plus scalar value columns, or any
            result of the method contract (its `to_dataset()` table and provenance are used).
        repo_id (`str`): the values repo (`<org>/<source-name>-values`), or the source repo if you own it.
        config (`str`, *optional*): the config name; defaults to `provenance.method` (`lava`, `gotd`, ...).
        provenance ([`ValueProvenance`]): the method's provenance for `values` (required for a plain table).
        source ([`~datasets.Dataset`], *optional*): the rows the values belong to. When given, a `row_hash` column
            (content hash of each source row) is added so [`attach_values`] can detect changed rows, and a missing
            `source_revision` is read from its cache folder when it was loaded from the Hub.
        token (`str` or `bool`, *optional*): a Hub token; defaults to the logged-in one. Never logged.
        private (`bool`, *optional*): create the repo as private if it does not exist.
        commit_message (`str`, *optional*): summary of the data commit.
        set_default (`bool`, *optional*): make this config the repo's default.
        histogram (`bool`, *optional*, defaults to `True`): add `<config>/histogram.png` to the card.
        tag (`str`, *optional*): also pin the metadata commit with this tag (e.g. `lava-v1`), for
            `load_values(..., revision="lava-v1")`.
        max_retries (`int`, *optional*, defaults to 8): retries of the metadata commit on a stale parent (412).

    Returns:
        [`PushResult`]: the commits made and the published metadata block.

    Raises:
        [`DataValueError`] subclasses: the table does not match its provenance, or the source revision is a branch.
    """
    from datasets import Dataset as _Dataset
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import EntryNotFoundError

    table: Dataset
    if not isinstance(values, _Dataset) and hasattr(values, "to_dataset"):
        provenance = provenance or result_provenance(values)
        table = values.to_dataset()
    else:
        table = values  # type: ignore[assignment]
    values = table
    if provenance is None:
        raise DataValueError("push_values needs the table's ValueProvenance (every method returns one)")
    config = check_config_name(config or provenance.method)
    provenance = ValueProvenance.from_dict(provenance.to_dict())
    if provenance.row_key not in values.column_names:
        raise MissingColumnError("value table", provenance.row_key, values.column_names)
    hash_columns: list[str] = []
    if source is not None:
        if provenance.source_revision is None:
            provenance.source_revision = infer_source_revision(source)
        values, hash_columns = _with_row_hashes(values, provenance, source)
    values = values.flatten_indices() if getattr(values, "_indices", None) is not None else values
    block = build_metadata(values, provenance, config, row_hash_columns=hash_columns or None)
    if not hash_columns:
        logger.warning(
            "publishing %s without row hashes: attach_values can then check only row counts, keys and the source "
            "fingerprint; pass source=<the valued rows> to record them",
            config,
        )

    from huggingface_hub.errors import HfHubHTTPError

    logger.info("pushing %d rows of %r to %s (config %r)", len(values), provenance.score_column, repo_id, config)
    # datasets retries its own commit on 412 only when the error's __context__ is an HfHubHTTPError, which
    # huggingface_hub 2.x no longer raises that way: retry the whole (idempotent) push here instead.
    for attempt in range(max_retries + 1):
        try:
            info = values.push_to_hub(
                repo_id,
                config_name=config,
                split="train",
                token=token,
                private=private,
                set_default=set_default,
                commit_message=commit_message or f"hf_datavalue: {config} values ({provenance.method})",
            )
            break
        except HfHubHTTPError as err:
            if _http_status(err) not in (409, 412) or attempt == max_retries:
                raise
            logger.info(
                "data commit for %s/%s raced another commit; pushing again (retry %d)", repo_id, config, attempt + 1
            )
            _backoff(attempt)
    data_commit = str(info.oid)
    api = HfApi(endpoint=_endpoint(), token=token, library_name="hf_datavalue")
    extra_ops = [
        CommitOperationAdd(f"{config}/meta.json", (json.dumps(block, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    ]
    if histogram and block["columns"][provenance.score_column] in ("float64", "float32", "int64", "int32"):
        scores = np.asarray(values[provenance.score_column], dtype=np.float64)
        png = histogram_png(scores, f"{config}: {provenance.score_column} ({provenance.score_semantics})")
        extra_ops.append(CommitOperationAdd(f"{config}/histogram.png", png))

    parent = data_commit
    for attempt in range(max_retries + 1):
        try:
            readme = api.hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=parent)
            with open(readme, encoding="utf-8") as handle:
                card_text: str | None = handle.read()
        except EntryNotFoundError:
            card_text = None
        card = update_card(card_text, block, repo_id)
        operations = [*extra_ops, CommitOperationAdd("README.md", str(card).encode("utf-8"))]
        try:
            commit = api.create_commit(
                repo_id,
                operations=operations,
                commit_message=f"hf_datavalue: {config} metadata and card",
                repo_type="dataset",
                parent_commit=parent,
            )
        except HfHubHTTPError as err:
            if _http_status(err) in (409, 412) and attempt < max_retries:
                logger.info(
                    "card commit for %s/%s raced another commit; re-reading the card (retry %d)",
                    repo_id,
                    config,
                    attempt + 1,
                )
                _backoff(attempt)
                parent = str(api.repo_info(repo_id, repo_type="dataset", revision="main").sha)
                if _data_files(api, repo_id, config, parent) != _data_files(api, repo_id, config, data_commit):
                    raise DataValueError(
                        f"another push replaced the {config!r} data of {repo_id} before its metadata was committed; "
                        "push again"
                    ) from err
                continue
            raise
        if tag:
            api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset")
        logger.info("published %s config %r at %s", repo_id, config, commit.oid)
        return PushResult(
            repo_id=repo_id,
            config=config,
            data_commit=data_commit,
            commit_sha=commit.oid,
            commit_url=commit.commit_url,
            metadata=block,
            retries=attempt,
        )
    raise AssertionError("unreachable")  # pragma: no cover
