"""Baseline buyers (`specs/dam.md` §7) and summary-statistics heuristics.

| name | rule |
|---|---|
| `uniform` | spend-all-equally: the same share of the budget on every seller, integer rows by largest remainder |
| `random` | uniform-random (reference): seller `i` gets a random integer in `[0, 2 cost_scale N_i / S)` |
| `single_random` | one seller at random, the budget's worth of rows (reference) |
| `single_best` | the one seller whose summary best matches the buyer, the budget's worth of rows |
| `summary` | budget shares from summary similarity x preview agreement, spread over the better half |

Usage:

```python
from hf_datavalue.dam.strategies import get_strategy

counts = get_strategy("summary").propose(market.public)
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .allocation import counts_from_money, single_seller_counts
from .base import Strategy, register_strategy

__all__ = [
    "RandomStrategy",
    "SingleBestStrategy",
    "SingleRandomStrategy",
    "SummaryStrategy",
    "UniformStrategy",
    "buyer_label_correlation",
    "preview_agreement",
    "summary_similarity",
]


def _rng(seed: int, marketplace: Any) -> np.random.Generator:
    return np.random.default_rng([seed, marketplace.marketplace_id, 99])


def buyer_label_correlation(marketplace: Any) -> np.ndarray:
    """Per-feature Pearson correlation of the buyer's `Db` with its label (the sellers' summary statistic)."""
    x = marketplace.buyer_features.astype(np.float64)
    y = marketplace.buyer_labels.astype(np.float64)
    xc, yc = x - x.mean(0), y - y.mean()
    denom = np.sqrt((xc * xc).sum(0) * (yc * yc).sum())
    return np.where(denom > 0, (xc * yc[:, None]).sum(0) / np.where(denom > 0, denom, 1.0), 0.0)


def _buyer_class_shares(marketplace: Any, classes: np.ndarray) -> np.ndarray:
    y = marketplace.buyer_labels
    return np.asarray([np.mean(y == c) for c in classes])


def summary_similarity(marketplace: Any) -> np.ndarray:
    """Per seller: `max(0, cos(label_correlation_i, label_correlation_buyer)) * (1 - TV(label mix_i, buyer's))`."""
    lc_b = buyer_label_correlation(marketplace)
    classes = np.unique(marketplace.buyer_labels)
    shares_b = _buyer_class_shares(marketplace, classes)
    out = np.zeros(marketplace.n_sellers)
    for i, s in enumerate(marketplace.sellers):
        lc = s.summary.label_correlation
        cos = float(lc @ lc_b / (np.linalg.norm(lc) * np.linalg.norm(lc_b) + 1e-12))
        tv = 0.5 * float(np.abs(s.summary.label_distribution(classes) - shares_b).sum())
        out[i] = max(cos, 0.0) * (1.0 - tv)
    return out


def preview_agreement(marketplace: Any) -> np.ndarray:
    """Per seller: share of its sample rows whose label equals the buyer's nearest class centroid's class."""
    x, y = marketplace.buyer_features.astype(np.float64), marketplace.buyer_labels
    classes = np.unique(y)
    centroids = np.stack([x[y == c].mean(0) for c in classes])
    out = np.zeros(marketplace.n_sellers)
    for i, s in enumerate(marketplace.sellers):
        d = ((s.sample_features[:, None, :].astype(np.float64) - centroids[None]) ** 2).sum(-1)
        out[i] = float(np.mean(classes[d.argmin(1)] == s.sample_labels))
    return out


@register_strategy("uniform")
class UniformStrategy(Strategy):
    """Spend-all-equally: the same money on every seller (rows in proportion to `N_i`)."""

    def propose(self, marketplace: Any) -> list[int]:
        return counts_from_money(np.ones(marketplace.n_sellers), marketplace).tolist()


@register_strategy("random")
class RandomStrategy(Strategy):
    """Uniform-random (reference): `n_i ~ U{0, ..., ceil(2 cost_scale N_i / S) - 1}`, scaled down if over budget."""

    def propose(self, marketplace: Any) -> list[int]:
        rng = _rng(self.seed, marketplace)
        cost_scale = marketplace.getbudget() / marketplace.sellers[0].price.max_price
        upper = np.maximum(1, np.ceil(2 * cost_scale * marketplace.sizes / marketplace.n_sellers)).astype(np.int64)
        counts = rng.integers(0, upper)
        while marketplace.cost(counts) > marketplace.getbudget():
            counts = np.floor(counts * marketplace.getbudget() / marketplace.cost(counts) * 0.999).astype(np.int64)
        return counts.tolist()


@register_strategy("single_random")
class SingleRandomStrategy(Strategy):
    """One seller chosen uniformly at random; the budget's worth of its rows (reference `single-random`)."""

    def propose(self, marketplace: Any) -> list[int]:
        i = int(_rng(self.seed, marketplace).integers(marketplace.n_sellers))
        return single_seller_counts(marketplace, i).tolist()


@register_strategy("single_best")
class SingleBestStrategy(Strategy):
    """The seller with the best [`summary_similarity`] x [`preview_agreement`]; the budget's worth of its rows."""

    def propose(self, marketplace: Any) -> list[int]:
        score = summary_similarity(marketplace) * preview_agreement(marketplace)
        return single_seller_counts(marketplace, int(np.argmax(score))).tolist()


@register_strategy("summary")
class SummaryStrategy(Strategy):
    """Budget shares `∝ quality^power` over the sellers with above-median quality.

    `quality = summary_similarity * preview_agreement`, both from the public view only.

    Args:
        power (`float`, *optional*, defaults to 2.0): sharpness of the shares.
        keep (`float`, *optional*, defaults to 0.5): share of sellers kept (the best ones).
        seed (`int`, *optional*, defaults to 0): unused (the rule is deterministic).
    """

    def __init__(self, power: float = 2.0, keep: float = 0.5, seed: int = 0):
        super().__init__(seed)
        self.power = float(power)
        self.keep = float(keep)

    def propose(self, marketplace: Any) -> list[int]:
        quality = summary_similarity(marketplace) * preview_agreement(marketplace)
        n_keep = max(1, int(round(self.keep * marketplace.n_sellers)))
        shares = np.zeros(marketplace.n_sellers)
        best = np.argsort(-quality, kind="stable")[:n_keep]
        shares[best] = np.maximum(quality[best], 1e-6) ** self.power
        return counts_from_money(shares, marketplace).tolist()
