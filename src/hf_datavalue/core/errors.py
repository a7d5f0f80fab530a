"""The one exception hierarchy of hf_datavalue.

Every error raised on bad user input derives from [`DataValueError`] (itself a `ValueError`, so existing
`except ValueError` code keeps working) and says what to fix. Catch the specific class when you want to
react to one kind of problem:

```python
from hf_datavalue.core.errors import DataValueError, MissingColumnError

try:
    values = compute_lava_values(train, valid, LavaConfig(label_column="label"))
except MissingColumnError as err:
    print(err)  # "train dataset has no column 'label'; available columns: ['text', 'y']"
```
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DataValueError",
    "EmptyDatasetError",
    "LabelError",
    "MissingColumnError",
    "MissingDependencyError",
    "NonFiniteError",
    "OutputExistsError",
    "RowKeyMismatchError",
    "ShapeMismatchError",
    "SolverError",
]


class DataValueError(ValueError):
    """Base class of every input error raised by hf_datavalue."""


class ConfigError(DataValueError):
    """A configuration value is out of range or inconsistent with another one."""


class EmptyDatasetError(DataValueError):
    """A dataset (or a class, a domain, a shard) that must hold rows holds none."""


class MissingColumnError(DataValueError, KeyError):
    """A dataset lacks a column the method needs."""

    def __init__(self, what: str, column: str, available: Iterable[str]):
        self.column = column
        self.available = list(available)
        super().__init__(f"{what} has no column {column!r}; available columns: {self.available}")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class NonFiniteError(DataValueError):
    """An array holds NaN or infinite entries where finite numbers are required."""


class ShapeMismatchError(DataValueError):
    """Two inputs that must agree in size (rows, embedding width, weights) do not."""


class LabelError(DataValueError):
    """Labels are unusable: unknown classes, classes missing on one side, a single class, no mapping."""


class RowKeyMismatchError(DataValueError):
    """Values do not belong to the dataset they are attached to (row keys, counts or fingerprints differ)."""


class OutputExistsError(DataValueError, FileExistsError):
    """An output location already holds results of another run; refusing to overwrite them silently."""


class SolverError(DataValueError, RuntimeError):
    """A numerical solver produced non-finite values or failed to converge where convergence is required."""


class MissingDependencyError(ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs the package {package!r}: install it with `pip install 'hf_datavalue[{extra}]'`"
        )
