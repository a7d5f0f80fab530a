"""Buyer strategies for DAM marketplaces: `propose(marketplace) -> counts`, pluggable by registration.

Built in: `uniform`, `random`, `single_random`, `single_best`, `summary`, `lava`, `projektor`. See
[`register_strategy`] to add one.
"""

from .allocation import counts_from_mixture, counts_from_money, single_seller_counts
from .base import STRATEGIES, Strategy, available_strategies, get_strategy, register_strategy
from .baselines import (
    RandomStrategy,
    SingleBestStrategy,
    SingleRandomStrategy,
    SummaryStrategy,
    UniformStrategy,
)
from .lava import LavaStrategy
from .projektor import ProjektorStrategy
from .pseudo import pseudo_sample

__all__ = [
    "STRATEGIES",
    "LavaStrategy",
    "ProjektorStrategy",
    "RandomStrategy",
    "SingleBestStrategy",
    "SingleRandomStrategy",
    "Strategy",
    "SummaryStrategy",
    "UniformStrategy",
    "available_strategies",
    "counts_from_mixture",
    "counts_from_money",
    "get_strategy",
    "pseudo_sample",
    "register_strategy",
    "single_seller_counts",
]
