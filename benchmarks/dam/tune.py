"""Choosing the OT buyers' defaults on the tuning split (AG News marketplaces, seed 0), at 5 % and 10 % budgets.

The report split is seed 1 (`bench.py --seed 1`). Rows: benchmarks/results/dam/tuning_seed0.jsonl.

Usage: `python benchmarks/dam/tune.py`
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import OUT, load  # noqa: E402

VARIANTS = {
    "lava": {"softmax_t0.5": {"allocation": "softmax", "temperature": 0.5},
             "softmax_t2": {"allocation": "softmax", "temperature": 2.0},
             "softmax_t5": {"allocation": "softmax", "temperature": 5.0},
             "filter_0.5": {"allocation": "filter", "keep": 0.5},
             "filter_0.75": {"allocation": "filter", "keep": 0.75}},
    "projektor": {"pseudo_5": {"pseudo_size": 5}, "pseudo_40": {"pseudo_size": 40}},
}  # fmt: skip


def main() -> None:
    from hf_datavalue.dam import DamBenchmark, DamConfig, get_strategy

    data, off = load("ag_news")
    bench = DamBenchmark(DamConfig(embedding_column="embedding", seed=0))
    markets = bench.build(data, offtask=off)
    base = get_strategy("lava")
    with (OUT / "tuning_seed0.jsonl").open("w") as fh:
        for strategy, variants in VARIANTS.items():
            for name, kwargs in variants.items():
                s = get_strategy(strategy, **kwargs)
                if strategy == "lava":
                    s._distances = base._distances  # the LAVA distances do not depend on the allocation knobs
                for pct in (5.0, 10.0):
                    r = bench.run(markets, s, budget=pct)
                    row = {"dataset": "ag_news", "seed": 0, "strategy": strategy, "variant": name, "params": kwargs,
                           "budget_pct": pct, "accuracy": r.accuracy, "score": r.score}  # fmt: skip
                    fh.write(json.dumps(row) + "\n")
                    print(row, flush=True)


if __name__ == "__main__":
    main()
