"""`DamBenchmark`: build marketplaces, let a strategy propose, score it (the method's entry point).

Usage:

```python
from hf_datavalue.dam import DamBenchmark, DamConfig

bench = DamBenchmark(DamConfig(embedding_column="embedding", seed=0))
markets = bench.build(dataset)                     # 5 simulated marketplaces
result = bench.run(markets, "lava")                # DamResult: per-marketplace scores
result.score, result.accuracy
bench.run(markets, "uniform", budget=5.0).to_dataset()
```
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.provenance import ValueProvenance, row_key_fingerprint
from .config import DamConfig
from .evaluator import FALLBACK_RULES, evaluate
from .marketplace import SimulatedMarketplace
from .result import KEY_COLUMN, SCORE_COLUMN, SCORE_SEMANTICS, DamResult
from .simulator import Simulator
from .strategies import Strategy, get_strategy, single_seller_counts
from .submission import check_purchase

__all__ = ["DamBenchmark"]

logger = logging.getLogger(__name__)


class DamBenchmark:
    """Simulator + strategies + official evaluator under one [`DamConfig`].

    Args:
        config ([`DamConfig`], *optional*): simulator and scoring arguments.
        embedder (`str` or `Embedder`, *optional*): embeds `config.text_column` when there is no feature column.
    """

    def __init__(self, config: DamConfig | None = None, embedder: Any = None):
        self.config = config or DamConfig()
        self.embedder = embedder

    def build(self, dataset: Any, offtask: Any = None) -> list[SimulatedMarketplace]:
        """`config.n_marketplaces` simulated marketplaces from a labelled dataset."""
        return Simulator(self.config, embedder=self.embedder).build(dataset, offtask=offtask)

    def propose(
        self, markets: Sequence[SimulatedMarketplace], strategy: str | Strategy, budget: float | None = None
    ) -> list[list[int]]:
        """The strategy's purchase for each marketplace; it only ever sees `market.public`."""
        strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
        out = []
        for m in markets:
            view = m.public if budget is None else m.public.with_budget(budget)
            out.append(check_purchase(view, strat.propose(view)).tolist())
        return out

    def score(
        self, markets: Sequence[SimulatedMarketplace], purchases: Sequence[Sequence[int]], strategy: str = "",
        budget: float | None = None,
    ) -> DamResult:  # fmt: skip
        """Score one purchase per marketplace with the official rule; returns a [`DamResult`]."""
        cfg = self.config
        scores = []
        for m, counts in zip(markets, purchases, strict=True):
            mk = m if budget is None else m.with_budget(budget)
            scores.append(evaluate(mk, counts, trials=cfg.trials, seed=cfg.seed, alpha=cfg.alpha))
        ids = [s.marketplace for s in scores]
        provenance = ValueProvenance(
            method="dam",
            score_column=SCORE_COLUMN,
            score_semantics=SCORE_SEMANTICS,
            n_rows=len(scores),
            row_fingerprint=row_key_fingerprint(ids),
            row_key=KEY_COLUMN,
            params=cfg.to_dict(),
            extra={"strategy": strategy, "rules": dict(FALLBACK_RULES), "simulator": "hf_datavalue (not DataPerf)"},
        )
        return DamResult(strategy=strategy, scores=scores, provenance=provenance, config=cfg)

    def oracle_best_single(self, markets: Sequence[SimulatedMarketplace], budget: float | None = None) -> DamResult:
        """A reference, not a buyer: on each marketplace, the one seller whose affordable purchase scores best on
        the hidden data (spec §10.7). It reads seller data no strategy may see, so it is never a registered
        strategy; it is the yardstick "oracle best single seller" of the baseline sanity checks.
        """
        cfg = self.config
        purchases = []
        for m in markets:
            mk = m if budget is None else m.with_budget(budget)
            view = mk.public
            accuracy = [
                evaluate(mk, single_seller_counts(view, i).tolist(), trials=cfg.trials, seed=cfg.seed).accuracy
                for i in range(view.n_sellers)
            ]
            purchases.append(single_seller_counts(view, int(np.argmax(accuracy))).tolist())
        return self.score(markets, purchases, strategy="oracle_best_single", budget=budget)

    def run(
        self, markets: Sequence[SimulatedMarketplace], strategy: str | Strategy, budget: float | None = None
    ) -> DamResult:
        """Propose with `strategy` on every marketplace (at `budget`, default each marketplace's) and score."""
        strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
        purchases = self.propose(markets, strat, budget)
        result = self.score(markets, purchases, strategy=strat.name, budget=budget)
        result.provenance.extra["strategy_params"] = strat.describe()
        logger.info("strategy %s: score %.4f, accuracy %.4f", strat.name, result.score, result.accuracy)
        return result
