"""DAM baseline sanity checks (spec §10.7) on the simulator: AG News (MiniLM features), every seller's class mix
from Dirichlet(alpha = 0.1), 20 % of sellers with 40 % label noise, 5 seeds, at cost scales 1/5/10/20 %.

Must pass: the oracle best single seller >= a random single seller (mean accuracy, every cost scale); spending
the budget equally ("uniform") >= "random" - 0.02. Recorded, not required: the LAVA buyer vs "random".
Rows go to benchmarks/results/dam/sanity.jsonl (resumable: finished (seed, budget, strategy) rows are skipped).

Usage: `PYTHONPATH=src python benchmarks/dam/sanity.py [--seeds 0 1 2 3 4]`
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import load  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "dam" / "sanity.jsonl"
BUDGETS = (1.0, 5.0, 10.0, 20.0)
STRATEGIES = ("oracle_best_single", "single_random", "uniform", "random", "lava")


def main() -> None:
    from hf_datavalue.dam import DamBenchmark, DamConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    args = parser.parse_args()
    done = set()
    if OUT.exists():
        done = {(r["seed"], r["budget_pct"], r["strategy"]) for r in map(json.loads, OUT.read_text().splitlines())}
    data, offtask = load("ag_news")
    for seed in args.seeds:
        config = DamConfig(embedding_column="embedding", seed=seed, label_alphas=[0.1], noisy_fraction=0.2,
                           noise_rate=0.4)  # fmt: skip
        bench = DamBenchmark(config)
        markets = bench.build(data, offtask=offtask)
        for pct in BUDGETS:
            for name in args.strategies:
                if (seed, pct, name) in done:
                    continue
                t0 = time.perf_counter()
                if name == "oracle_best_single":
                    result = bench.oracle_best_single(markets, budget=pct)
                else:
                    result = bench.run(markets, name, budget=pct)
                row = {"dataset": "ag_news", "seed": seed, "budget_pct": pct, "strategy": name,
                       "accuracy": result.accuracy, "score": result.score, "seconds": time.perf_counter() - t0}  # fmt: skip
                with OUT.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    report()


def report() -> None:
    rows = [json.loads(line) for line in OUT.read_text().splitlines()]
    print("| budget | " + " | ".join(STRATEGIES) + " | oracle >= single_random | uniform >= random - 0.02 |")
    print("|---|" + "---:|" * len(STRATEGIES) + "---|---|")
    for pct in BUDGETS:
        acc = {s: np.mean([r["accuracy"] for r in rows if r["budget_pct"] == pct and r["strategy"] == s] or [np.nan])
               for s in STRATEGIES}  # fmt: skip
        checks = (acc["oracle_best_single"] >= acc["single_random"], acc["uniform"] >= acc["random"] - 0.02)
        n = len({r["seed"] for r in rows if r["budget_pct"] == pct})
        cells = " | ".join(f"{acc[s]:.3f}" for s in STRATEGIES)
        print(f"| {pct:g} % ({n} seeds) | {cells} | {'yes' if checks[0] else 'NO'} | {'yes' if checks[1] else 'NO'} |")


if __name__ == "__main__":
    main()
