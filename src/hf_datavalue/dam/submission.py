"""DataPerf submission files and purchase legality (`specs/dam.md` §3).

A submission is one file per marketplace, `k.txt` (the README's name; `k.csv` as in the reference's examples is
read too), holding one line of comma-separated non-negative integers: rows to buy from each seller in seller-id
order. A purchase is legal when `0 <= n_i <= N_i` for every seller and `sum_i price_i(n_i) <= budget` (within
1e-9 relative tolerance).

Usage:

```python
from hf_datavalue.dam.submission import check_purchase, read_submission, write_submission

write_submission("sub/", [[1, 2, 3, ...], ...])     # sub/0.txt, sub/1.txt, ...
counts = read_submission("sub/", n_marketplaces=5)    # list of lists
check_purchase(market.public, counts[0])              # raises OverBudgetError, CountRangeError, ...
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import DataValueError
from ..core.io import write_bytes_atomic

__all__ = [
    "BUDGET_RTOL",
    "CountRangeError",
    "OverBudgetError",
    "SubmissionError",
    "check_purchase",
    "parse_counts",
    "read_submission",
    "write_submission",
]

BUDGET_RTOL = 1e-9


class SubmissionError(DataValueError):
    """A submission is malformed: wrong number of entries, non-integers, missing files."""


class CountRangeError(SubmissionError):
    """A count is negative, fractional or above the seller's row number."""


class OverBudgetError(SubmissionError):
    """A purchase costs more than the budget."""


def parse_counts(values: Sequence[Any], n_sellers: int, what: str = "purchase") -> np.ndarray:
    """Validate the shape and integrality of a count vector; returns int64 counts."""
    vals = list(values)
    if len(vals) != n_sellers:
        raise SubmissionError(f"{what} has {len(vals)} entries but the marketplace has {n_sellers} sellers")
    out = np.empty(n_sellers, dtype=np.int64)
    for i, v in enumerate(vals):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise SubmissionError(f"{what}: entry {i} is {v!r}, not an integer") from None
        if not np.isfinite(f) or f != int(f):
            raise CountRangeError(f"{what}: entry {i} is {v!r}; counts must be whole numbers of rows")
        if f < 0:
            raise CountRangeError(f"{what}: entry {i} is {v!r}; counts must be >= 0")
        out[i] = int(f)
    return out


def check_purchase(marketplace: Any, counts: Sequence[Any]) -> np.ndarray:
    """Check a purchase against a [`Marketplace`] and return it as int64 counts.

    Raises:
        [`SubmissionError`]: wrong number of entries or non-numbers.
        [`CountRangeError`]: a negative or fractional count, or `n_i > N_i`.
        [`OverBudgetError`]: the total price exceeds the budget (beyond 1e-9 relative tolerance).
    """
    n = parse_counts(counts, marketplace.n_sellers)
    sizes = marketplace.sizes
    over = np.flatnonzero(n > sizes)
    if len(over):
        i = int(over[0])
        raise CountRangeError(f"seller {i} has {int(sizes[i])} rows but the purchase asks for {int(n[i])}")
    cost = marketplace.cost(n)
    budget = marketplace.getbudget()
    if cost > budget * (1 + BUDGET_RTOL):
        raise OverBudgetError(f"the purchase costs {cost:.6g} but the budget is {budget:.6g}; buy fewer rows")
    return n


def write_submission(out_dir: str | os.PathLike[str], purchases: Sequence[Sequence[int]]) -> Path:
    """Write `k.txt` (one line of comma-separated integers) for each marketplace `k`, atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for k, counts in enumerate(purchases):
        n = parse_counts(counts, len(list(counts)))
        write_bytes_atomic(out / f"{k}.txt", (",".join(str(int(v)) for v in n) + "\n").encode("ascii"))
    return out


def _read_line(path: Path) -> list[str]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) != 1:
        raise SubmissionError(f"{path} must hold exactly one line of comma-separated integers, found {len(lines)}")
    return [v.strip() for v in lines[0].split(",")]


def read_submission(
    sub_dir: str | os.PathLike[str], n_marketplaces: int, n_sellers: int | None = None
) -> list[list[int]]:
    """Read `k.txt` (or `k.csv`) for `k = 0 .. n_marketplaces - 1`.

    Raises:
        [`SubmissionError`]: a file is missing, has more than one line, non-integers, or (when `n_sellers` is
            given) the wrong number of entries; [`CountRangeError`] for negative or fractional counts.
    """
    root = Path(sub_dir)
    out: list[list[int]] = []
    for k in range(n_marketplaces):
        path = next((p for p in (root / f"{k}.txt", root / f"{k}.csv") if p.is_file()), None)
        if path is None:
            raise SubmissionError(f"{root} has no {k}.txt (or {k}.csv) for marketplace {k}")
        values = _read_line(path)
        n = parse_counts(values, n_sellers if n_sellers is not None else len(values), what=str(path))
        out.append(n.tolist())
    return out
