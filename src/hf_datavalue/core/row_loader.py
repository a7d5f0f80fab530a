"""Row-keyed batches: a loader that keeps every row's `row_idx` through collation, and a model sweep over it.

Every scored row carries its `row_idx` through the collator (the column is popped before collation and
re-attached as an int64 tensor), so results are keyed by row, never by loader position. Under an
[`~accelerate.Accelerator`] the loader is sharded with `prepare_data_loader` and per-batch results are
gathered with `gather_for_metrics`, which drops the duplicated rows that pad the last uneven batch; rows are
then de-duplicated by `row_idx` as a second guard. Every process runs the same number of batches and makes the
same collective calls.

Usage:

```python
from datasets import Dataset
from hf_datavalue.core.row_loader import ordered_loader, prepare_dataset

ds = prepare_dataset(Dataset.from_dict({"x": [[0.0, 1.0]] * 5, "y": [0, 1, 0, 1, 0]}), "train dataset")
loader = ordered_loader(ds, batch_size=2)
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .errors import EmptyDatasetError, MissingColumnError, RowKeyMismatchError
from .rows import ROW_KEY

__all__ = ["RowIndexCollator", "ROW_KEY", "ordered_loader", "prepare_dataset", "sweep"]


def _numeric_feature(feature: Any) -> bool:
    """True when a `datasets` feature collates to a tensor (numbers, nested lists of numbers, arrays)."""
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return True
    if isinstance(feature, datasets.Value):
        return feature.dtype.startswith(("int", "uint", "float", "bool"))
    inner = getattr(feature, "feature", None)
    if inner is not None:  # Sequence / List / LargeList
        return _numeric_feature(inner)
    if isinstance(feature, list) and len(feature) == 1:
        return _numeric_feature(feature[0])
    return type(feature).__name__.startswith("Array")


def prepare_dataset(
    dataset: Any,
    what: str,
    required_columns: Sequence[str] = (),
    keep_columns: Sequence[str] | None = None,
) -> Any:
    """Check a dataset and give it a `row_idx` column.

    For a `datasets.Dataset`, columns that cannot be collated to tensors (strings, nested records) are dropped,
    unless named in `keep_columns`; an existing `row_idx` column is kept as the row key, otherwise the row
    position is used. Other map-style datasets (a list of dicts, a torch `Dataset` of dicts) are wrapped.

    Args:
        dataset: a `datasets.Dataset`, or a sequence of dict examples.
        what (`str`): how to name the dataset in error messages (`"train dataset"`).
        required_columns (`Sequence[str]`): columns that must exist.
        keep_columns (`Sequence[str]`, *optional*): extra columns to keep even if not numeric.

    Raises:
        EmptyDatasetError: the dataset has no rows.
        MissingColumnError: a required column is absent.
        RowKeyMismatchError: an existing `row_idx` column has duplicates.
    """
    import datasets

    if len(dataset) == 0:
        raise EmptyDatasetError(f"{what} has no rows")
    if isinstance(dataset, datasets.Dataset):
        for col in required_columns:
            if col not in dataset.column_names:
                raise MissingColumnError(what, col, dataset.column_names)
        keep = set(keep_columns or ())
        drop = [
            name
            for name, feat in dataset.features.items()
            if name != ROW_KEY and name not in keep and not _numeric_feature(feat)
        ]
        if drop:
            dataset = dataset.remove_columns(drop)
        if ROW_KEY in dataset.column_names:
            keys = np.asarray(dataset[ROW_KEY], dtype=np.int64)
            if len(np.unique(keys)) != len(keys):
                raise RowKeyMismatchError(f"{what} has duplicated values in its {ROW_KEY!r} column")
        else:
            dataset = dataset.add_column(ROW_KEY, np.arange(len(dataset), dtype=np.int64))
        return dataset
    rows = [dict(dataset[i]) for i in range(len(dataset))]
    first = rows[0]
    for col in required_columns:
        if col not in first:
            raise MissingColumnError(what, col, list(first))
    if ROW_KEY not in first:
        for i, row in enumerate(rows):
            row[ROW_KEY] = i
    return rows


def _row_idx_of(dataset: Any) -> np.ndarray:
    import datasets

    if isinstance(dataset, datasets.Dataset):
        return np.asarray(dataset[ROW_KEY], dtype=np.int64)
    return np.asarray([row[ROW_KEY] for row in dataset], dtype=np.int64)


class RowIndexCollator:
    """Wraps a collator so that `row_idx` passes through it as an int64 tensor.

    Args:
        collate_fn (`Callable`, *optional*): the inner collator (default:
            [`~transformers.default_data_collator`]).
    """

    def __init__(self, collate_fn: Callable[[list[dict[str, Any]]], Any] | None = None):
        if collate_fn is None:
            from transformers import default_data_collator

            collate_fn = default_data_collator
        self.collate_fn = collate_fn

    def __call__(self, features: list[Mapping[str, Any]]) -> dict[str, Any]:
        keys = [int(f[ROW_KEY]) for f in features]
        inner = [{k: v for k, v in f.items() if k != ROW_KEY} for f in features]
        batch = dict(self.collate_fn(inner))
        batch[ROW_KEY] = torch.tensor(keys, dtype=torch.int64)
        return batch


def ordered_loader(
    dataset: Any, batch_size: int, collate_fn: Callable[[list[dict[str, Any]]], Any] | None = None
) -> DataLoader:
    """A non-shuffling loader over a [`prepare_dataset`] output that keeps `row_idx` in every batch.

    The loader has its own seeded generator, so iterating it never draws from the global torch RNG.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=RowIndexCollator(collate_fn),
        generator=torch.Generator().manual_seed(0),
    )


def _to_device(batch: Mapping[str, Any], device: torch.device | None) -> dict[str, Any]:
    if device is None:
        return dict(batch)
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def iterate_batches(loader: DataLoader, device: torch.device | None = None) -> Iterator[dict[str, Any]]:
    """Batches of an (unsharded) loader moved to `device`, `row_idx` included."""
    for batch in loader:
        yield _to_device(batch, device)


def sweep(
    loader: DataLoader,
    fn: Callable[[dict[str, Any]], torch.Tensor],
    accelerator: Any = None,
    device: torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply `fn(batch) -> Tensor[batch, k]` to every batch; return `(row_idx, values)` sorted by `row_idx`.

    `fn` receives the batch without `row_idx`. With an `accelerator`, the loader is sharded across processes,
    results are gathered with `gather_for_metrics` (every process gets the full table), and duplicates are
    dropped by `row_idx`.

    Raises:
        RowKeyMismatchError: the gathered rows do not match the dataset's row keys.
    """
    expected = _row_idx_of(loader.dataset)
    run_loader = accelerator.prepare_data_loader(loader) if accelerator is not None else loader
    keys: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for batch in run_loader:
        batch = _to_device(batch, device if accelerator is None else None)
        row_idx = batch.pop(ROW_KEY)
        out = fn(batch).detach()
        if out.dim() == 1:
            out = out[:, None]
        if accelerator is not None:
            row_idx, out = accelerator.gather_for_metrics((row_idx.to(out.device), out.contiguous()))
        keys.append(row_idx.cpu().numpy().astype(np.int64))
        values.append(out.cpu().double().numpy())
    all_keys = np.concatenate(keys)
    all_values = np.concatenate(values)
    uniq, first = np.unique(all_keys, return_index=True)
    if len(uniq) != len(expected) or not np.array_equal(uniq, np.sort(expected)):
        raise RowKeyMismatchError(
            f"sweep covered {len(uniq)} distinct rows, the dataset has {len(expected)}: rows were lost or duplicated"
        )
    return uniq, all_values[first]
