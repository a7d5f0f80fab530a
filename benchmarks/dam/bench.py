"""DAM simulator benchmark: score and accuracy of every buyer strategy at budgets of 1, 5, 10 and 20 % of one
seller's price, on marketplaces built from AG News (MiniLM features) and CIFAR-10 (a fixed feature map).

Rows go to benchmarks/results/dam/rows.jsonl (one per dataset x strategy x budget; resumable: finished rows are
skipped). `seconds` is the wall time of `DamBenchmark.run` on the 5 marketplaces (propose + 10-trial scoring) and
`cpu_seconds` its process CPU time (the shared 2-core machine ran ~10-30 other processes: `load_average`);
strategies cache their budget-free seller scores per marketplace, so the first budget's row carries that cost.
Simulator numbers only: they are not DataPerf leaderboard numbers.

Usage: `python benchmarks/dam/bench.py [--datasets cifar10 ag_news] [--strategies uniform lava ...]`
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from features import CACHE, ag_news, cifar10, offtask_text  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "dam"
BUDGETS = (1.0, 5.0, 10.0, 20.0)  # percent of one seller's price (max_price = 100)
STRATEGIES = ("uniform", "random", "single_random", "single_best", "summary", "lava", "projektor")


def load(name: str):
    from datasets import Dataset

    if name == "cifar10":
        d = np.load(cifar10())
        return Dataset.from_dict({"embedding": d["x"], "label": d["y"]}), None
    d = np.load(ag_news())
    off = np.load(offtask_text())["x"]
    return (
        Dataset.from_dict({"embedding": d["x"], "label": d["y"]}),
        Dataset.from_dict({"embedding": off, "label": np.zeros(len(off), dtype=np.int64)}),
    )


def main() -> None:
    from hf_datavalue.dam import DamBenchmark, DamConfig, get_strategy

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "ag_news"])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows_path = OUT / "rows.jsonl"
    done = set()
    if rows_path.exists():
        for line in rows_path.read_text().splitlines():
            r = json.loads(line)
            done.add((r["dataset"], r["strategy"], r["budget_pct"], r["seed"]))
    for name in args.datasets:
        data, offtask = load(name)
        config = DamConfig(embedding_column="embedding", seed=args.seed)
        bench = DamBenchmark(config)
        t0 = time.perf_counter()
        markets = bench.build(data, offtask=offtask)
        build_s = time.perf_counter() - t0
        logging.info("%s: built %d marketplaces in %.1fs", name, len(markets), build_s)
        strategies = {s: get_strategy(s) for s in args.strategies}
        for pct in (10.0, 1.0, 5.0, 20.0):  # the 10 % budget (the goal's) first
            for strat_name, strategy in strategies.items():
                if (name, strat_name, pct, args.seed) in done:
                    continue
                t, cpu = time.perf_counter(), time.process_time()
                result = bench.run(markets, strategy, budget=pct)
                row = {
                    "dataset": name,
                    "strategy": strat_name,
                    "budget_pct": pct,
                    "seed": args.seed,
                    "score": result.score,
                    "accuracy": result.accuracy,
                    "accuracy_per_marketplace": [s.accuracy for s in result.scores],
                    "cost": float(np.mean([s.cost for s in result.scores])),
                    "rows_bought": [s.n_rows for s in result.scores],
                    "fallbacks": [s.fallback for s in result.scores],
                    "seconds": time.perf_counter() - t,
                    "cpu_seconds": time.process_time() - cpu,
                    "load_average": os.getloadavg()[0],
                    "build_seconds": build_s,
                    "n_marketplaces": len(markets),
                    "trials": config.trials,
                    "strategy_params": strategy.describe(),
                    "features": {
                        "cifar10": "fixed map: 8x8 avg-pool + 4x4x4 colour histogram (256 d)",
                        "ag_news": "all-MiniLM-L6-v2 (384 d), first 4,000 train_subset rows",
                    }[name],  # fmt: skip
                }
                with rows_path.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{name} {strat_name:14s} {pct:5.1f}% score {row['score']:.4f} acc {row['accuracy']:.4f} "
                      f"({row['seconds']:.1f}s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
    print("cache:", CACHE)
