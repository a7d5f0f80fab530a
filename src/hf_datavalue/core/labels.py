"""Label columns to class ids, consistently across two datasets (train and validation/target).

Accepts `int` labels, `str` labels and `ClassLabel` features. Classes are matched by value (or by
`ClassLabel` name), never by offsets, so a class missing on one side is detected instead of silently
shifting every id.

Usage:

```python
from datasets import Dataset
from hf_datavalue.core.labels import encode_labels

train = Dataset.from_dict({"label": ["pos", "neg", "pos"]})
valid = Dataset.from_dict({"label": ["neg", "pos"]})
enc = encode_labels(train, valid, "label")
enc.classes, enc.train_ids, enc.valid_ids  # ['neg', 'pos'], [1, 0, 1], [0, 1]
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EmptyDatasetError, LabelError, MissingColumnError

__all__ = ["LabelEncoding", "encode_labels"]


@dataclass
class LabelEncoding:
    """Class ids for both sides.

    Attributes:
        classes (`list`): the class keys, position = class id.
        train_ids (`np.ndarray`): int64 ids of the first dataset's rows.
        valid_ids (`np.ndarray`): int64 ids of the second dataset's rows.
    """

    classes: list[Any]
    train_ids: np.ndarray
    valid_ids: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def _keys(dataset: Any, column: str, what: str) -> tuple[list[Any], list[str] | None]:
    if column not in dataset.column_names:
        raise MissingColumnError(what, column, dataset.column_names)
    if len(dataset) == 0:
        raise EmptyDatasetError(f"{what} is empty")
    feature = dataset.features[column]
    names = getattr(feature, "names", None)
    values = dataset[column]
    if names is not None:
        return [names[int(v)] for v in values], list(names)
    first = values[0]
    if isinstance(first, bool | np.bool_):
        return [bool(v) for v in values], None
    if isinstance(first, int | np.integer):
        return [int(v) for v in values], None
    if isinstance(first, str):
        return [str(v) for v in values], None
    if isinstance(first, float | np.floating):
        arr = np.asarray(values, dtype=np.float64)
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise LabelError(
                f"column {column!r} of {what} holds non-integer numbers; class labels must be ints, strings or "
                "ClassLabel (for regression targets LAVA does not apply)"
            )
        return [int(v) for v in arr], None
    raise LabelError(
        f"column {column!r} of {what} holds {type(first).__name__} values; map them to ints or strings first "
        "(e.g. with Dataset.map) or cast the column to ClassLabel"
    )


def encode_labels(
    train: Any,
    valid: Any,
    column: str,
    *,
    valid_column: str | None = None,
    allow_missing_classes: bool = False,
    train_name: str = "train dataset",
    valid_name: str = "validation dataset",
) -> LabelEncoding:
    """Map both label columns to shared int64 class ids.

    Raises [`LabelError`] for mixed key types (e.g. ints on one side and strings on the other), for fewer than
    two classes overall, and, unless `allow_missing_classes=True`, for classes present on one side only.
    """
    train_keys, train_names = _keys(train, column, train_name)
    valid_keys, valid_names = _keys(valid, valid_column or column, valid_name)
    if train_names is not None and valid_names is not None and train_names != valid_names:
        raise LabelError(f"the ClassLabel names differ: {train_names} vs {valid_names}; align the label features")
    t_types = {type(k) for k in train_keys}
    v_types = {type(k) for k in valid_keys}
    if len(t_types | v_types) > 1:
        raise LabelError(
            f"labels of {train_name} are {sorted(t.__name__ for t in t_types)} but labels of {valid_name} are "
            f"{sorted(t.__name__ for t in v_types)}; map both to the same label space first"
        )
    t_set, v_set = set(train_keys), set(valid_keys)
    if not allow_missing_classes:
        if v_set - t_set:
            raise LabelError(
                f"classes {sorted(v_set - t_set)} of {valid_name} never occur in {train_name}; "
                "pass allow_missing_classes=True to value anyway"
            )
        if t_set - v_set:
            raise LabelError(
                f"classes {sorted(t_set - v_set)} of {train_name} never occur in {valid_name}, so no clean "
                "reference exists for them; add validation rows for them or pass allow_missing_classes=True"
            )
    classes = sorted(t_set | v_set, key=lambda k: (str(type(k)), k))
    if len(classes) < 2:
        raise LabelError(f"only one class ({classes}) occurs: class-wise values need at least two classes")
    index = {k: i for i, k in enumerate(classes)}
    return LabelEncoding(
        classes=classes,
        train_ids=np.fromiter((index[k] for k in train_keys), dtype=np.int64, count=len(train_keys)),
        valid_ids=np.fromiter((index[k] for k in valid_keys), dtype=np.int64, count=len(valid_keys)),
    )
