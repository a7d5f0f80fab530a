"""LAVA-based buyer (`specs/dam.md` §8): LAVA values of every seller's pseudo-sample against the buyer's `Db`.

1. Build a pseudo-sample per seller ([`pseudo_sample`]; `pseudo_size=5` uses the revealed rows only).
2. One LAVA run (`hf_datavalue.lava`, public API, on the feature vectors) values the union of the pseudo-samples
   against `Db`; a seller's distance is the mean value of its rows (higher = further from the buyer's data).
3. Score `s_i = -zscore(distance_i) + beta * cos(label_correlation_i, label_correlation_buyer)`.
4. Allocate: `"filter"` (default, chosen on AG News seed 0, see docs/dam.md) spends equal money on the best-scored
   half of the sellers; `"softmax"` gives budget shares `softmax(s / temperature)`; `"greedy"` buys the
   best-ranked sellers fully, in order, until the budget is spent.

Usage:

```python
from hf_datavalue.dam.strategies import get_strategy

counts = get_strategy("lava", temperature=0.5).propose(market.public)
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.errors import ConfigError
from .allocation import counts_from_money
from .base import Strategy, register_strategy
from .baselines import buyer_label_correlation
from .pseudo import pseudo_sample

__all__ = ["LavaStrategy", "lava_seller_distances", "pseudo_samples"]


def pseudo_samples(marketplace: Any, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(features, labels, seller ids)` of the concatenated pseudo-samples of every seller."""
    classes = sorted(set(marketplace.buyer_labels.tolist()))
    xs, ys, ids = [], [], []
    for i, s in enumerate(marketplace.sellers):
        rng = np.random.default_rng([seed, marketplace.marketplace_id, i, 5])
        x, y = pseudo_sample(s, size, classes, rng)
        xs.append(x)
        ys.append(y)
        ids.append(np.full(len(y), i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ids)


def lava_seller_distances(
    marketplace: Any, pseudo_size: int = 200, features: str = "probe_logits", seed: int = 0
) -> np.ndarray:
    """Mean LAVA value of each seller's pseudo-sample rows against the buyer's data (higher = worse)."""
    from datasets import Dataset

    from ...lava import LavaConfig, compute_lava_values

    x, y, ids = pseudo_samples(marketplace, pseudo_size, seed)
    train = Dataset.from_dict({"features": x, "label": y})
    valid = Dataset.from_dict({"features": marketplace.buyer_features, "label": marketplace.buyer_labels})
    config = LavaConfig.from_dict(
        {"embedding_column": "features", "features": features, "allow_missing_classes": True, "seed": seed}
    )
    values = compute_lava_values(train, valid, config, progress=False).values
    return np.asarray([values[ids == i].mean() for i in range(marketplace.n_sellers)])


@register_strategy("lava")
class LavaStrategy(Strategy):
    """Rank sellers by LAVA distance of their pseudo-samples to the buyer plus a label-correlation term.

    Args:
        pseudo_size (`int`, *optional*, defaults to 200): rows per pseudo-sample (5 = revealed rows only).
        features (`str`, *optional*, defaults to `"probe_logits"`): LAVA's feature space (see `LavaConfig`).
        beta (`float`, *optional*, defaults to 1.0): weight of the label-correlation cosine.
        temperature (`float`, *optional*, defaults to 0.5): softmax temperature of the budget shares.
        allocation (`str`, *optional*, defaults to `"filter"`): `"softmax"` (budget shares `softmax(s / T)`),
            `"greedy"` (best-ranked sellers bought fully, in order) or `"filter"` (equal money on the best `keep`).
        keep (`float`, *optional*, defaults to 0.5): share of sellers kept by `"filter"`.
        seed (`int`, *optional*, defaults to 0): seeds the pseudo-samples and LAVA.
    """

    def __init__(
        self,
        pseudo_size: int = 200,
        features: str = "probe_logits",
        beta: float = 1.0,
        temperature: float = 0.5,
        allocation: str = "filter",
        keep: float = 0.5,
        seed: int = 0,
    ):
        super().__init__(seed)
        if allocation not in ("softmax", "greedy", "filter"):
            raise ConfigError(f"allocation must be 'softmax', 'greedy' or 'filter', got {allocation!r}")
        if not 0 < keep <= 1:
            raise ConfigError(f"keep must lie in (0, 1], got {keep}")
        self.keep = float(keep)
        if pseudo_size < 1 or not temperature > 0:
            raise ConfigError("pseudo_size must be >= 1 and temperature > 0")
        self.pseudo_size = int(pseudo_size)
        self.features = features
        self.beta = float(beta)
        self.temperature = float(temperature)
        self.allocation = allocation
        self._distances: dict[tuple[Any, ...], np.ndarray] = {}  # per marketplace: budget-free, reused

    def seller_scores(self, marketplace: Any) -> np.ndarray:
        """`-zscore(LAVA distance) + beta * label-correlation cosine` per seller (higher = buy first)."""
        key = (marketplace.marketplace_id, hash(marketplace.buyer_features.tobytes()), tuple(marketplace.sizes))
        if key not in self._distances:
            self._distances[key] = lava_seller_distances(marketplace, self.pseudo_size, self.features, self.seed)
        d = self._distances[key]
        z = (d - d.mean()) / (d.std() + 1e-12)
        lc_b = buyer_label_correlation(marketplace)
        cos = np.asarray(
            [
                float(s.summary.label_correlation @ lc_b)
                / (np.linalg.norm(s.summary.label_correlation) * np.linalg.norm(lc_b) + 1e-12)
                for s in marketplace.sellers
            ]
        )
        return -z + self.beta * cos

    def propose(self, marketplace: Any) -> list[int]:
        s = self.seller_scores(marketplace)
        if self.allocation == "softmax":
            shares = np.exp((s - s.max()) / self.temperature)
            return counts_from_money(shares, marketplace).tolist()
        if self.allocation == "filter":  # LAVA as a filter: equal money on the best-scored `keep` share
            shares = np.zeros(marketplace.n_sellers)
            shares[np.argsort(-s, kind="stable")[: max(1, int(round(self.keep * marketplace.n_sellers)))]] = 1.0
            return counts_from_money(shares, marketplace).tolist()
        counts = np.zeros(marketplace.n_sellers, dtype=np.int64)
        left = marketplace.getbudget()
        for i in np.argsort(-s, kind="stable"):
            price = marketplace.row_prices[i]
            n = min(int(marketplace.sizes[i]), int(np.floor(left / price * (1 + 1e-12))))
            counts[i] = n
            left -= n * price
            if n < marketplace.sizes[i]:
                break
        return counts.tolist()
