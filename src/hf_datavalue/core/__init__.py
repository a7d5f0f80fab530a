"""Shared machinery: typed errors, embeddings, optimal transport. No Trainer and no Hub code here."""

from .errors import (
    ConfigError,
    DataValueError,
    EmptyDatasetError,
    LabelError,
    MissingColumnError,
    MissingDependencyError,
    NonFiniteError,
    OutputExistsError,
    RowKeyMismatchError,
    ShapeMismatchError,
    SolverError,
)

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
