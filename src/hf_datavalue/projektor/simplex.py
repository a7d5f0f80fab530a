"""The probability simplex: validation of mixtures, Euclidean projection (Duchi et al. 2008), grids.

Usage:

```python
from hf_datavalue.projektor.simplex import project_simplex, simplex_grid

p = project_simplex([0.9, 0.5, -0.2])            # on the simplex, the closest point in L2
grid = simplex_grid(3, 10)                        # the reference's 66 mixtures with step 0.1
q = project_simplex([0.9, 0.5, -0.2], prices=[1, 2, 3], max_price=1.5)  # also mean price <= 1.5
```
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from ..core.errors import ConfigError, NonFiniteError, ShapeMismatchError

__all__ = ["check_mixture", "project_simplex", "simplex_grid"]

_SIMPLEX_TOL = 1e-6


def check_mixture(p: Sequence[float] | np.ndarray, m: int | None = None, what: str = "mixture") -> np.ndarray:
    """Validate a mixture (finite, `>= 0`, sums to 1 within 1e-6, `m` entries) and return it as float64.

    Raises:
        [`NonFiniteError`]: a NaN or infinite entry.
        [`ShapeMismatchError`]: the wrong number of entries.
        [`ConfigError`]: a negative entry or a sum off 1 (the message gives the sum; renormalise first).
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1:
        raise ShapeMismatchError(f"{what} must be a 1-D vector of source shares, got shape {arr.shape}")
    if m is not None and arr.shape[0] != m:
        raise ShapeMismatchError(f"{what} has {arr.shape[0]} entries but there are {m} sources")
    if not np.isfinite(arr).all():
        raise NonFiniteError(f"{what} {arr.tolist()} has NaN or infinite entries")
    if (arr < -_SIMPLEX_TOL).any():
        raise ConfigError(f"{what} {arr.tolist()} has negative entries; every share must be >= 0")
    total = float(arr.sum())
    if abs(total - 1.0) > _SIMPLEX_TOL:
        raise ConfigError(f"{what} {arr.tolist()} sums to {total:.6g}, not 1: a mixture must lie on the simplex")
    arr = np.clip(arr, 0.0, None)
    return arr / arr.sum()


def _project_plain(v: np.ndarray) -> np.ndarray:
    """Sort-based Euclidean projection onto `{p >= 0, Σp = 1}` (Duchi et al. 2008, Fig. 1)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, v.size + 1)
    rho = int(np.nonzero(u - css / idx > 0)[0][-1])
    theta = css[rho] / (rho + 1.0)
    w = np.maximum(v - theta, 0.0)
    return w / w.sum()


def project_simplex(
    v: Sequence[float] | np.ndarray,
    prices: Sequence[float] | np.ndarray | None = None,
    max_price: float | None = None,
) -> np.ndarray:
    """Euclidean projection of `v` onto the probability simplex, optionally intersected with `prices·p <= max_price`.

    With a price constraint the projection is `Π_Δ(v − λ·prices)` for the smallest `λ >= 0` that satisfies it
    (the KKT conditions of the intersection), found by bisection (the mean price is non-increasing in λ).

    Args:
        v (`array`): the point to project (any finite vector).
        prices (`array`, *optional*): price per example of each source.
        max_price (`float`, *optional*): the largest allowed mean price per example (`budget / N`).

    Returns:
        `np.ndarray` (float64): `p >= 0`, `Σp = 1` to 1e-12.

    Raises:
        [`NonFiniteError`] on NaN input, [`ConfigError`] when the price constraint cannot be met.
    """
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ShapeMismatchError(f"can only project a non-empty 1-D vector, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise NonFiniteError(f"cannot project {arr.tolist()} onto the simplex: it has NaN or infinite entries")
    p = _project_plain(arr)
    if prices is None and max_price is None:
        return p
    if prices is None or max_price is None:
        raise ConfigError("a price constraint needs both prices and max_price (budget / size)")
    c = np.asarray(prices, dtype=np.float64)
    if c.shape != arr.shape or not np.isfinite(c).all() or (c < 0).any():
        raise ConfigError(f"prices must be {arr.size} finite non-negative numbers, got {c.tolist()}")
    if not math.isfinite(max_price):
        raise NonFiniteError(f"max_price must be finite, got {max_price}")
    if float(c.min()) > max_price + 1e-12:
        raise ConfigError(
            f"the budget allows a mean price of {max_price:.6g} per example, but the cheapest source costs "
            f"{float(c.min()):.6g}: raise the budget or lower the size"
        )
    if float(c @ p) <= max_price:
        return p
    lo, hi = 0.0, 1.0
    scale = max(1.0, float(np.abs(arr).max()))
    while float(c @ _project_plain(arr - hi * c)) > max_price:
        hi *= 2.0
        if hi > 1e12 * scale:  # only the cheapest sources remain; fall back to them
            break
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(c @ _project_plain(arr - mid * c)) > max_price:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    out = _project_plain(arr - hi * c)
    if float(c @ out) > max_price + 1e-9:  # degenerate ties: put everything on the cheapest sources
        cheap = c <= float(c.min()) + 1e-12
        out = cheap / cheap.sum()
    return out


def simplex_grid(m: int, resolution: int = 10) -> np.ndarray:
    """Every mixture with shares in `{0, 1/resolution, ..., 1}` (66 points for m = 3, resolution 10).

    Ordered lexicographically in the first m − 1 shares, as the reference's `p1, p2` loops.
    """
    if m < 2 or resolution < 1:
        raise ConfigError(f"a simplex grid needs m >= 2 and resolution >= 1, got m={m}, resolution={resolution}")
    rows = [
        (*head, resolution - sum(head))
        for head in itertools.product(range(resolution + 1), repeat=m - 1)
        if sum(head) <= resolution
    ]
    return np.asarray(rows, dtype=np.float64) / resolution
