"""The DAM marketplace: the buyer's public view (`Marketplace`) and the simulator's hidden answer key.

A [`Marketplace`] offers exactly the reference getters (`specs/dam.md` §2): `getbudget()`, `getbuyerdata()`,
`getmlmodel()` and `getsellerinfo(i)` -> (price function, summary JSON, 5 sample rows). It holds no seller rows
beyond the revealed samples. The full seller data lives in [`SimulatedMarketplace`], which only the evaluator
reads; strategies are handed `market.public`.

Usage:

```python
from hf_datavalue.dam import Simulator, DamConfig

markets = Simulator(DamConfig(embedding_column="embedding")).build(dataset)
view = markets[0].public                   # what a buyer strategy sees
price, summary, samples = view.getsellerinfo(3)
price(10), summary["row_number"], samples.shape  # cost of 10 rows, N_3, (5, d + 1)
```
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..core.errors import ConfigError, EmptyDatasetError, LabelError, NonFiniteError, ShapeMismatchError

__all__ = [
    "LinearPrice",
    "Marketplace",
    "SellerData",
    "SellerInfo",
    "SellerSummary",
    "SimulatedMarketplace",
    "summarize_seller",
]


@dataclass(frozen=True)
class LinearPrice:
    """DAM's price function: `price(n) = max_price * n / row_number` ("Lin,100" in the reference).

    Args:
        row_number (`int`): the seller's rows `N_i`.
        max_price (`float`, *optional*, defaults to 100.0): the price of all `N_i` rows.
    """

    row_number: int
    max_price: float = 100.0

    def __call__(self, n: float) -> float:
        return self.max_price * float(n) / self.row_number

    @property
    def per_row(self) -> float:
        """The price of one row, `max_price / row_number`."""
        return self.max_price / self.row_number

    def to_dict(self) -> dict[str, Any]:
        return {"type": "linear", "max_p": self.max_price, "row_number": self.row_number}


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class SellerSummary:
    """The summary JSON of one seller: `{row_number, column_number, hist, label_correlation}`.

    Attributes:
        row_number (`int`): rows `N_i`.
        column_number (`int`): feature columns + 1 (the label is the last column, as in DAM).
        hist_counts (`np.ndarray`): `(column_number, bins)` int64 histogram counts (`k_size`), label column last.
        hist_edges (`np.ndarray`): `(column_number, bins + 1)` float64 increasing bin edges (`k_range`).
        label_correlation (`np.ndarray`): `(column_number - 1,)` Pearson correlation of each feature with the
            label (0 for a constant feature or a constant label, where it is undefined).
    """

    row_number: int
    column_number: int
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    label_correlation: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """The reference's JSON layout: `hist[str(column)] = {"k_size": [...], "k_range": [...]}`."""
        return {
            "row_number": int(self.row_number),
            "column_number": int(self.column_number),
            "hist": {
                str(c): {"k_size": self.hist_counts[c].tolist(), "k_range": self.hist_edges[c].tolist()}
                for c in range(self.column_number)
            },
            "label_correlation": self.label_correlation.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SellerSummary:
        cols = int(data["column_number"])
        hist = data["hist"]
        return cls(
            row_number=int(data["row_number"]),
            column_number=cols,
            hist_counts=_readonly(np.asarray([hist[str(c)]["k_size"] for c in range(cols)], dtype=np.int64)),
            hist_edges=_readonly(np.asarray([hist[str(c)]["k_range"] for c in range(cols)], dtype=np.float64)),
            label_correlation=_readonly(np.asarray(data["label_correlation"], dtype=np.float64)),
        )

    def label_distribution(self, classes: Sequence[int]) -> np.ndarray:
        """The seller's class shares read off the label column's histogram (each class id falls in one bin)."""
        counts, edges = self.hist_counts[-1], self.hist_edges[-1]
        bins = np.clip(
            np.searchsorted(edges, np.asarray(classes, dtype=np.float64), side="right") - 1, 0, len(counts) - 1
        )
        shares = np.zeros(len(classes))
        seen: set[int] = set()
        for _k, b in enumerate(bins):  # two classes in one bin (more classes than bins) share it
            if int(b) in seen:
                continue
            same = np.flatnonzero(bins == b)
            shares[same] = counts[b] / len(same)
            seen.add(int(b))
        total = shares.sum()
        return shares / total if total > 0 else shares


def summarize_seller(features: np.ndarray, labels: np.ndarray, bins: int = 10) -> SellerSummary:
    """The DAM summary of a seller's rows: histograms of every column (label last) and label correlations."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    table = np.column_stack([x, y])
    counts = np.empty((table.shape[1], bins), dtype=np.int64)
    edges = np.empty((table.shape[1], bins + 1), dtype=np.float64)
    for c in range(table.shape[1]):
        counts[c], edges[c] = np.histogram(table[:, c], bins=bins)
    xc = x - x.mean(0)
    yc = y - y.mean()
    denom = np.sqrt((xc * xc).sum(0) * (yc * yc).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(denom > 0, (xc * yc[:, None]).sum(0) / np.where(denom > 0, denom, 1.0), 0.0)
    return SellerSummary(
        row_number=len(y),
        column_number=table.shape[1],
        hist_counts=_readonly(counts),
        hist_edges=_readonly(edges),
        label_correlation=_readonly(corr),
    )


@dataclass(frozen=True)
class SellerInfo:
    """What a buyer may know about one seller: price, summary and the revealed sample rows."""

    seller_id: int
    price: LinearPrice
    summary: SellerSummary
    sample_features: np.ndarray
    sample_labels: np.ndarray

    @property
    def row_number(self) -> int:
        return self.summary.row_number

    @property
    def samples(self) -> np.ndarray:
        """The sample rows as DAM ships them: features with the label as the last column."""
        return np.column_stack([self.sample_features.astype(np.float64), self.sample_labels.astype(np.float64)])


class Marketplace:
    """One buyer and its sellers, as the buyer sees them (the reference's getters; no hidden seller rows).

    Args:
        buyer_features (`np.ndarray`): `(n_b, d)` the buyer's evaluation set `Db`.
        buyer_labels (`np.ndarray`): `(n_b,)` int class ids.
        sellers (`list[SellerInfo]`): the public information of each seller, in seller-id order.
        budget (`float`): the buyer's budget.
        classes (`list`, *optional*): class names by id.
        marketplace_id (`int`, *optional*, defaults to 0): the instance number (`k` of `k.txt`).

    Raises:
        [`ConfigError`]: the budget is not positive or cannot buy even one row of the cheapest seller.
    """

    def __init__(
        self,
        buyer_features: np.ndarray,
        buyer_labels: np.ndarray,
        sellers: Sequence[SellerInfo],
        budget: float,
        classes: Sequence[Any] | None = None,
        marketplace_id: int = 0,
    ):
        self._buyer_x = _readonly(np.asarray(buyer_features, dtype=np.float32))
        self._buyer_y = _readonly(np.asarray(buyer_labels, dtype=np.int64))
        self._sellers = tuple(sellers)
        if not self._sellers:
            raise EmptyDatasetError("a marketplace needs at least one seller")
        self.marketplace_id = int(marketplace_id)
        self.classes = list(classes) if classes is not None else sorted({int(v) for v in self._buyer_y})
        self._budget = float(budget)
        cheapest = min(s.price.per_row for s in self._sellers)
        if not math.isfinite(self._budget) or self._budget <= 0:
            raise ConfigError(f"the budget must be a positive finite number, got {budget}")
        if self._budget < cheapest * (1 - 1e-9):
            raise ConfigError(
                f"budget {self._budget:g} is below the cheapest purchase (one row costs at least {cheapest:g}): "
                "no legal purchase exists; raise the budget or cost_scale"
            )

    # ---------------------------------------------------------------- reference getters
    def getbudget(self) -> float:
        """The budget (a float)."""
        return self._budget

    def getbuyerdata(self) -> np.ndarray:
        """The buyer's labelled evaluation set `Db`: features with the label as the last column."""
        return np.column_stack([self._buyer_x.astype(np.float64), self._buyer_y.astype(np.float64)])

    def getmlmodel(self) -> Any:
        """A fresh copy of the evaluator's model, `LogisticRegression(random_state=0)`."""
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=0)

    def getsellerinfo(self, i: int) -> tuple[LinearPrice, dict[str, Any], np.ndarray]:
        """`(price function, summary JSON, sample rows)` of seller `i` (rows: features + label last column)."""
        s = self.seller(i)
        return s.price, s.summary.to_dict(), s.samples

    # ---------------------------------------------------------------- conveniences
    @property
    def n_sellers(self) -> int:
        return len(self._sellers)

    @property
    def sellers(self) -> tuple[SellerInfo, ...]:
        return self._sellers

    def seller(self, i: int) -> SellerInfo:
        if not 0 <= int(i) < len(self._sellers):
            raise ConfigError(f"seller index {i} is out of range [0, {len(self._sellers)})")
        return self._sellers[int(i)]

    @property
    def buyer_features(self) -> np.ndarray:
        return self._buyer_x

    @property
    def buyer_labels(self) -> np.ndarray:
        return self._buyer_y

    @property
    def sizes(self) -> np.ndarray:
        """`N_i` of every seller."""
        return np.asarray([s.row_number for s in self._sellers], dtype=np.int64)

    @property
    def row_prices(self) -> np.ndarray:
        """Price of one row of every seller."""
        return np.asarray([s.price.per_row for s in self._sellers], dtype=np.float64)

    def cost(self, counts: Sequence[int] | np.ndarray) -> float:
        """Total price `sum_i price_i(n_i)` of a purchase (no legality check)."""
        return float(sum(s.price(n) for s, n in zip(self._sellers, np.asarray(counts).tolist())))

    def with_budget(self, budget: float) -> Marketplace:
        """The same marketplace with another budget."""
        return Marketplace(self._buyer_x, self._buyer_y, self._sellers, budget, self.classes, self.marketplace_id)

    def __repr__(self) -> str:
        return (
            f"Marketplace(id={self.marketplace_id}, sellers={self.n_sellers}, budget={self._budget:g}, "
            f"buyer_rows={len(self._buyer_y)}, dim={self._buyer_x.shape[1]})"
        )


@dataclass(frozen=True)
class SellerData:
    """A seller's full (hidden) data: only the evaluator reads it."""

    features: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class SimulatedMarketplace:
    """A marketplace with its hidden seller data and the generating parameters (the answer key).

    Attributes:
        public ([`Marketplace`]): the buyer's view; hand only this to strategies.
        sellers (`list[SellerData]`): each seller's full rows.
        generation (`dict`): how the sellers were generated (roles, label mixes, noise), JSON-able.
    """

    public: Marketplace
    sellers: list[SellerData]
    generation: dict[str, Any] = field(default_factory=dict)

    @property
    def marketplace_id(self) -> int:
        return self.public.marketplace_id

    def with_budget(self, budget: float) -> SimulatedMarketplace:
        return replace(self, public=self.public.with_budget(budget))

    @classmethod
    def from_arrays(
        cls,
        buyer_features: np.ndarray,
        buyer_labels: np.ndarray,
        seller_features: Sequence[np.ndarray],
        seller_labels: Sequence[np.ndarray],
        budget: float,
        *,
        max_price: float = 100.0,
        preview_rows: int = 5,
        hist_bins: int = 10,
        classes: Sequence[Any] | None = None,
        marketplace_id: int = 0,
        seed: int = 0,
        generation: dict[str, Any] | None = None,
    ) -> SimulatedMarketplace:
        """Build a marketplace from arrays: summaries, previews (uniform, seeded) and linear prices.

        Raises:
            [`NonFiniteError`], [`ShapeMismatchError`], [`EmptyDatasetError`], [`LabelError`] (a single class
            overall, or a seller whose labels are disjoint from the buyer's), [`ConfigError`] (budget).
        """
        bx = _check_features(buyer_features, "buyer features")
        by = np.asarray(buyer_labels, dtype=np.int64)
        if len(by) != len(bx):
            raise ShapeMismatchError(f"the buyer has {len(bx)} feature rows but {len(by)} labels")
        if len(seller_features) != len(seller_labels):
            raise ShapeMismatchError("seller_features and seller_labels must list the same sellers")
        buyer_classes = set(by.tolist())
        all_classes = set(buyer_classes)
        rng = np.random.default_rng([seed, marketplace_id, 7])
        infos, hidden = [], []
        for i, (xs, ys) in enumerate(zip(seller_features, seller_labels)):
            x = _check_features(xs, f"seller {i} features")
            y = np.asarray(ys, dtype=np.int64)
            if len(y) != len(x):
                raise ShapeMismatchError(f"seller {i} has {len(x)} feature rows but {len(y)} labels")
            if x.shape[1] != bx.shape[1]:
                raise ShapeMismatchError(f"seller {i} has {x.shape[1]} features but the buyer has {bx.shape[1]}")
            if len(y) < preview_rows:
                raise EmptyDatasetError(f"seller {i} has {len(y)} rows; it needs at least {preview_rows} (previews)")
            if not set(y.tolist()) & buyer_classes:
                raise LabelError(
                    f"seller {i}'s labels {sorted(set(y.tolist()))} are disjoint from the buyer's "
                    f"{sorted(buyer_classes)}: map both to one label space or drop that seller"
                )
            all_classes |= set(y.tolist())
            pick = np.sort(rng.choice(len(y), size=preview_rows, replace=False))
            infos.append(
                SellerInfo(
                    seller_id=i,
                    price=LinearPrice(len(y), max_price),
                    summary=summarize_seller(x, y, hist_bins),
                    sample_features=_readonly(x[pick]),
                    sample_labels=_readonly(y[pick]),
                )
            )
            hidden.append(SellerData(features=_readonly(x), labels=_readonly(y)))
        if len(all_classes) < 2:
            raise LabelError(f"only one class ({sorted(all_classes)}) occurs: a classification market needs two")
        public = Marketplace(bx, by, infos, budget, classes=classes, marketplace_id=marketplace_id)
        return cls(public=public, sellers=hidden, generation=dict(generation or {}))


def _check_features(x: Any, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ShapeMismatchError(f"{what} must be 2-D (rows x features), got shape {arr.shape}")
    if len(arr) == 0:
        raise EmptyDatasetError(f"{what} are empty")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise NonFiniteError(
            f"{what} have NaN or infinite values in {int(bad.sum())} rows (first: row {int(np.flatnonzero(bad)[0])})"
        )
    return arr
