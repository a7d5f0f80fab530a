"""The official DAM scoring rule (`specs/dam.md` §4), with explicit per-trial seeds.

For each trial, draw `n_i` rows uniformly **with replacement** from each seller's hidden data, fit
`LogisticRegression(random_state=0)` on the union and measure accuracy on the buyer's `Db`; average over trials.
`score = alpha * accuracy + (1 - alpha) * (budget - cost) / budget` with `alpha = 0.98`.

Edge cases the reference leaves open (recorded in every [`Score`] as `fallback`): an empty purchase scores
accuracy 0; a purchase with a single class predicts that class for every buyer row.

Usage:

```python
from hf_datavalue.dam import evaluate

score = evaluate(market, counts, trials=10, seed=0)
score.score, score.accuracy, score.cost
```
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .marketplace import SimulatedMarketplace
from .submission import check_purchase

__all__ = ["FALLBACK_RULES", "Score", "evaluate", "official_score", "sample_purchase"]

FALLBACK_RULES = {
    "empty": "an empty purchase scores accuracy 0",
    "single_class": "a single-class purchase predicts that class for every buyer row",
}


@dataclass
class Score:
    """The evaluation of one purchase on one marketplace.

    Attributes:
        marketplace (`int`): the instance number.
        score (`float`): `alpha * accuracy + (1 - alpha) * unused budget fraction`.
        accuracy (`float`): mean buyer accuracy over the trials.
        accuracies (`list[float]`): accuracy of each trial.
        cost (`float`), budget (`float`): price of the purchase and the budget.
        counts (`list[int]`): rows bought per seller.
        trials (`int`), alpha (`float`), seed (`int`): how it was scored.
        fallback (`str`, *optional*): `"empty"` or `"single_class"` when a fallback rule applied (any trial).
    """

    marketplace: int
    score: float
    accuracy: float
    accuracies: list[float]
    cost: float
    budget: float
    counts: list[int]
    trials: int
    alpha: float
    seed: int
    fallback: str | None = None
    rules: dict[str, str] = field(default_factory=lambda: dict(FALLBACK_RULES))

    @property
    def n_rows(self) -> int:
        return int(sum(self.counts))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def official_score(accuracy: float, cost: float, budget: float, alpha: float = 0.98) -> float:
    """`alpha * accuracy + (1 - alpha) * (budget - cost) / budget` (DataPerf, alpha = 0.98)."""
    return float(alpha * accuracy + (1.0 - alpha) * (budget - cost) / budget)


def sample_purchase(
    market: SimulatedMarketplace, counts: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One with-replacement draw of `counts[i]` rows from each seller's hidden data."""
    xs, ys = [], []
    for seller, n in zip(market.sellers, counts.tolist()):
        if n == 0:
            continue
        idx = rng.integers(0, len(seller), n)
        xs.append(seller.features[idx])
        ys.append(seller.labels[idx])
    if not xs:
        return np.zeros((0, market.public.buyer_features.shape[1]), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def evaluate(
    market: SimulatedMarketplace, counts: Sequence[Any], trials: int = 10, seed: int = 0, alpha: float = 0.98
) -> Score:
    """Score a purchase on a simulated marketplace with the official rule (legality checked first).

    Trial `t` draws with `numpy.random.default_rng([seed, marketplace_id, t])`.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    view = market.public
    n = check_purchase(view, counts)
    bx, by = view.buyer_features, view.buyer_labels
    accs: list[float] = []
    fallback: str | None = None
    for t in range(trials):
        rng = np.random.default_rng([seed, view.marketplace_id, t])
        x, y = sample_purchase(market, n, rng)
        if len(y) == 0:
            accs.append(0.0)
            fallback = "empty"
            continue
        present = np.unique(y)
        if len(present) == 1:
            accs.append(float(np.mean(by == present[0])))
            fallback = fallback or "single_class"
            continue
        model = LogisticRegression(random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)
        accs.append(float(np.mean(model.predict(bx) == by)))
    accuracy = float(np.mean(accs))
    cost = view.cost(n)
    budget = view.getbudget()
    return Score(
        marketplace=view.marketplace_id,
        score=official_score(accuracy, cost, budget, alpha),
        accuracy=accuracy,
        accuracies=accs,
        cost=cost,
        budget=budget,
        counts=n.tolist(),
        trials=trials,
        alpha=alpha,
        seed=seed,
        fallback=fallback,
    )
