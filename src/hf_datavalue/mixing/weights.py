"""Compatibility home of the mixture types; they live in [`hf_datavalue.core.mixture`] so that every method
(DDO/AutoScale, Projektor, DAM) can use them without importing another method."""

from ..core.mixture import (
    UNITS,
    MixtureWeights,
    check_same_domains,
    largest_remainder,
    measure_tokens_per_example,
    normalize_weights,
)

__all__ = [
    "UNITS",
    "MixtureWeights",
    "check_same_domains",
    "largest_remainder",
    "measure_tokens_per_example",
    "normalize_weights",
]
