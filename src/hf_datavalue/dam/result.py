"""`DamResult`: one strategy's scores on a set of marketplaces (the method contract's result class).

Usage:

```python
result = DamBenchmark(config).run(markets, "uniform")
result.score, result.accuracy          # means over marketplaces (the leaderboard numbers)
result.to_dataset()                    # one row per marketplace, key column "marketplace"
result.save("runs/uniform"); DamResult.load("runs/uniform")
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import OutputExistsError, ValueTableError
from ..core.io import read_json, write_json_atomic, write_parquet_atomic
from ..core.provenance import ValueProvenance
from .config import DamConfig
from .evaluator import FALLBACK_RULES, Score

__all__ = ["KEY_COLUMN", "SCORE_COLUMN", "SCORE_SEMANTICS", "DamResult"]

SCORE_COLUMN = "score"
KEY_COLUMN = "marketplace"
SCORE_SEMANTICS = "higher = better purchase (0.98 * buyer accuracy + 0.02 * unused budget fraction)"


@dataclass
class DamResult:
    """Per-marketplace [`Score`]s of one strategy.

    Attributes:
        strategy (`str`): the strategy name.
        scores (`list[Score]`): one per marketplace.
        provenance ([`ValueProvenance`]): config, strategy and fallback rules.
        config ([`DamConfig`]): the simulator/evaluator arguments.
    """

    strategy: str
    scores: list[Score]
    provenance: ValueProvenance
    config: DamConfig = field(default_factory=DamConfig)

    @property
    def score(self) -> float:
        """Mean official score over marketplaces."""
        return float(np.mean([s.score for s in self.scores]))

    @property
    def accuracy(self) -> float:
        """Mean buyer accuracy over marketplaces."""
        return float(np.mean([s.accuracy for s in self.scores]))

    def summary(self) -> dict[str, Any]:
        """`{"strategy", "score", "accuracy", "cost", "budget", "marketplaces"}`: the `scores.json` body."""
        return {
            "strategy": self.strategy,
            "score": self.score,
            "accuracy": self.accuracy,
            "cost": float(np.mean([s.cost for s in self.scores])),
            "budget": float(np.mean([s.budget for s in self.scores])),
            "rules": dict(FALLBACK_RULES),
            "marketplaces": [s.to_dict() for s in self.scores],
        }

    def to_dataset(self) -> Any:
        """A `datasets.Dataset`, one row per marketplace: marketplace, strategy, budget, cost, accuracy, ...

        Scalar columns only (a Hub value table holds scalars): the purchase is `purchase`, the DataPerf submission
        line of that marketplace (the counts per seller, space-separated).
        """
        from datasets import Dataset, Features, Value

        features = Features(
            {
                KEY_COLUMN: Value("int64"),
                "strategy": Value("string"),
                SCORE_COLUMN: Value("float64"),
                "accuracy": Value("float64"),
                "accuracy_std": Value("float64"),
                "cost": Value("float64"),
                "budget": Value("float64"),
                "n_rows": Value("int64"),
                "fallback": Value("string"),
                "purchase": Value("string"),
            }
        )
        columns = self._columns()
        columns["purchase"] = [" ".join(str(int(c)) for c in counts) for counts in columns.pop("counts")]
        return Dataset.from_dict(columns, features=features)

    def _columns(self) -> dict[str, list[Any]]:
        return {
            KEY_COLUMN: [s.marketplace for s in self.scores],
            "strategy": [self.strategy] * len(self.scores),
            SCORE_COLUMN: [s.score for s in self.scores],
            "accuracy": [s.accuracy for s in self.scores],
            "accuracy_std": [float(np.std(s.accuracies)) for s in self.scores],
            "cost": [s.cost for s in self.scores],
            "budget": [s.budget for s in self.scores],
            "n_rows": [s.n_rows for s in self.scores],
            "fallback": [s.fallback for s in self.scores],
            "counts": [list(s.counts) for s in self.scores],
        }

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write `scores.parquet`, `meta.json` (provenance + per-trial accuracies) and `config.json`, atomically."""
        import pyarrow as pa

        out = Path(output_dir)
        if (out / "scores.parquet").exists() and not overwrite:
            raise OutputExistsError(f"{out} already holds DAM scores; pass overwrite=True or pick another folder")
        cols = self._columns()
        table = pa.table({k: pa.array(v, pa.list_(pa.int64()) if k == "counts" else None) for k, v in cols.items()})
        write_parquet_atomic(out / "scores.parquet", table, metadata=self.provenance.to_dict())
        meta = {"provenance": self.provenance.to_dict(), "scores": [s.to_dict() for s in self.scores]}
        write_json_atomic(out / "meta.json", meta)
        self.config.save(out / "config.json")
        return out

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> DamResult:
        """Read a result written by [`save`]."""
        out = Path(output_dir)
        try:
            meta = read_json(out / "meta.json")
            prov = ValueProvenance.from_dict(meta["provenance"])
            scores = [Score(**s) for s in meta["scores"]]
        except (OSError, KeyError, TypeError) as err:
            raise ValueTableError(f"{out} does not hold a readable DAM result: {err}") from None
        config = DamConfig.load(out / "config.json")
        strategy = str(prov.extra.get("strategy", ""))
        return cls(strategy=strategy, scores=scores, provenance=prov, config=config)
