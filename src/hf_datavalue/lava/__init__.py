"""LAVA: data values from a class-wise optimal-transport distance to a clean validation set.

Higher `lava_value` = more harmful. See [`LavaValuer`] and `specs/lava.md`.
"""

from .baselines import knn_label_disagreement
from .config import LavaConfig
from .plots import plot_value_histogram
from .valuation import SCORE_COLUMN, SCORE_SEMANTICS, LavaResult, LavaValuer, compute_lava_values

__all__ = [
    "SCORE_COLUMN",
    "SCORE_SEMANTICS",
    "LavaConfig",
    "LavaResult",
    "LavaValuer",
    "compute_lava_values",
    "knn_label_disagreement",
    "plot_value_histogram",
]
