"""The buyer-strategy extension point: `Strategy.propose(marketplace) -> counts`, registered by name.

A strategy sees only the public [`Marketplace`] (getters, summaries, 5 sample rows per seller) and returns one
non-negative integer per seller. Register a new one with [`register_strategy`]; `hf-datavalue dam propose
--strategy NAME` and the benchmark pick it up by name.

Usage:

```python
from hf_datavalue.dam.strategies import Strategy, register_strategy, get_strategy

@register_strategy("cheapest")
class Cheapest(Strategy):
    \"\"\"Spend the whole budget on the seller with the cheapest rows.\"\"\"

    def propose(self, marketplace):
        i = int(marketplace.row_prices.argmin())
        return single_seller_counts(marketplace, i)

counts = get_strategy("cheapest").propose(market.public)
```
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from ...core.errors import ConfigError

__all__ = ["STRATEGIES", "Strategy", "available_strategies", "get_strategy", "register_strategy"]

S = TypeVar("S", bound="type[Strategy]")

STRATEGIES: dict[str, type[Strategy]] = {}


class Strategy(ABC):
    """A buyer strategy. Subclasses implement [`propose`]; constructor keyword arguments are its knobs.

    Args:
        seed (`int`, *optional*, defaults to 0): seeds every random choice (combined with the marketplace id).
    """

    name: str = ""

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    @abstractmethod
    def propose(self, marketplace: Any) -> list[int]:
        """Rows to buy from each seller of `marketplace` (a public [`Marketplace`]), in seller-id order."""

    def describe(self) -> dict[str, Any]:
        """The strategy's name and knobs (JSON-able) for provenance."""
        knobs = {
            k: v for k, v in vars(self).items() if not k.startswith("_") and isinstance(v, (int, float, str, bool))
        }
        return {"name": self.name, **knobs}


def register_strategy(name: str) -> Callable[[S], S]:
    """Class decorator: make a [`Strategy`] subclass available under `name`."""

    def deco(cls: S) -> S:
        known = STRATEGIES.get(name)
        if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
            raise ConfigError(f"strategy {name!r} is already registered by {known.__module__}.{known.__qualname__}")
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return deco


def available_strategies() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(STRATEGIES)


def get_strategy(name: str, **kwargs: Any) -> Strategy:
    """An instance of the strategy registered as `name` (keyword arguments go to its constructor)."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown DAM strategy {name!r}; available: {available_strategies()}")
    cls = STRATEGIES[name]
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise ConfigError(f"strategy {name!r} has no options {unknown}; it takes {sorted(set(params) - {'self'})}")
    return cls(**kwargs)
