"""Turning a buyer's preferences into legal integer purchases (`specs/dam.md` §8 step 3).

A mixture `p` over sellers is a share of *rows*; a seller's price per row is `max_price / N_i`, so rows and money
differ. [`counts_from_mixture`] finds the largest total `T` with `sum_i price_i * min(p_i T, N_i) <= budget`,
apportions `floor(sum_i min(p_i T, N_i))` rows with largest-remainder quotas
([`hf_datavalue.core.mixture.largest_remainder`]), and spends what is left, one row at a time, on the sellers
with the largest remainders. The result never exceeds the budget and spends at least 99 % of it whenever the
chosen sellers have enough rows.

Usage:

```python
counts = counts_from_mixture(p, view.sizes, view.row_prices, view.getbudget())
counts = counts_from_money(m, view)   # m: shares of the budget per seller
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigError, NonFiniteError
from ...core.mixture import largest_remainder

__all__ = ["counts_from_mixture", "counts_from_money", "single_seller_counts"]


def _cost(counts: np.ndarray, prices: np.ndarray) -> float:
    return float((counts * prices).sum())


def counts_from_mixture(
    p: Sequence[float] | np.ndarray, sizes: Sequence[int] | np.ndarray, row_prices: Sequence[float] | np.ndarray,
    budget: float,
) -> np.ndarray:  # fmt: skip
    """Integer counts `n_i <= N_i` proportional to the row mixture `p` that spend as much of `budget` as fits.

    Args:
        p (`array`): non-negative row shares per seller (normalised here).
        sizes (`array`): `N_i`.
        row_prices (`array`): price of one row of each seller.
        budget (`float`): money to spend.
    """
    w = np.asarray(p, dtype=np.float64)
    n_max = np.asarray(sizes, dtype=np.int64)
    price = np.asarray(row_prices, dtype=np.float64)
    if not np.isfinite(w).all():
        raise NonFiniteError("the mixture has NaN or infinite weights")
    if (w < 0).any() or w.sum() <= 0:
        raise ConfigError("the mixture needs non-negative weights with a positive sum")
    if not (len(w) == len(n_max) == len(price)):
        raise ConfigError("p, sizes and row_prices must have one entry per seller")
    w = w / w.sum()

    def spend(t: float) -> float:
        return float((price * np.minimum(w * t, n_max)).sum())

    active = w > 0
    t_hi = float((n_max[active] / w[active]).max())
    if spend(t_hi) <= budget:
        t = t_hi
    else:
        lo, hi = 0.0, t_hi
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if spend(mid) <= budget:
                lo = mid
            else:
                hi = mid
        t = lo
    raw = np.minimum(w * t, n_max)
    total = int(np.floor(raw.sum() + 1e-9))
    counts = np.zeros(len(w), dtype=np.int64)
    if total > 0:
        counts = np.minimum(np.asarray(largest_remainder(raw, total), dtype=np.int64), n_max)
    # the quotas can overshoot by less than one row per seller: take rows back from the priciest first
    while _cost(counts, price) > budget * (1 + 1e-12):
        over = np.flatnonzero(counts > np.floor(raw))
        pool = over if len(over) else np.flatnonzero(counts > 0)
        i = int(pool[np.argmax(price[pool])])
        counts[i] -= 1
    # then fill what is left, largest remainder first, only on sellers the mixture chose
    order = [int(i) for i in np.argsort(-(raw - counts), kind="stable") if active[i]]
    leftover = budget - _cost(counts, price)
    added = True
    while added:
        added = False
        for i in order:
            if counts[i] < n_max[i] and price[i] <= leftover * (1 + 1e-12):
                counts[i] += 1
                leftover -= price[i]
                added = True
    return counts


def counts_from_money(shares: Sequence[float] | np.ndarray, marketplace: Any) -> np.ndarray:
    """Counts when `shares` are fractions of the *budget* per seller (rows `p_i ∝ shares_i / price_i`)."""
    m = np.asarray(shares, dtype=np.float64)
    prices = marketplace.row_prices
    return counts_from_mixture(m / prices, marketplace.sizes, prices, marketplace.getbudget())


def single_seller_counts(marketplace: Any, i: int) -> np.ndarray:
    """The whole budget's worth of rows (capped at `N_i`) from seller `i` alone."""
    counts = np.zeros(marketplace.n_sellers, dtype=np.int64)
    price = marketplace.row_prices[i]
    counts[i] = min(int(marketplace.sizes[i]), int(np.floor(marketplace.getbudget() / price * (1 + 1e-12))))
    return counts
