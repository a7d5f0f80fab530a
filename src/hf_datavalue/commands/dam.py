"""`hf-datavalue dam`: build simulated DAM marketplaces, propose purchases with a strategy, score submissions.

Usage:

```bash
hf-datavalue dam build --data ag_news_emb.parquet --feature-column embedding --label-column label \
    --marketplaces 5 --sellers 20 --seed 0 --out market/
hf-datavalue dam propose --market market/ --strategy lava --out submission/      # writes 0.txt .. 4.txt
hf-datavalue dam score --market market/ --submission submission/ --out scores.json
hf-datavalue dam propose --help                                                   # lists the strategies
```

`scores.json` holds `"score"` and `"accuracy"` (means over marketplaces) and the per-marketplace details.
`propose` reads only the public part of the market directory; `score` reads the hidden seller data.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ._data import load_table

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _strategy_help() -> str:
    from ..dam.strategies import STRATEGIES, available_strategies

    lines = []
    for name in available_strategies():
        doc = (STRATEGIES[name].__doc__ or "").strip().splitlines()
        lines.append(f"  {name}: {doc[0] if doc else ''}")
    return "strategies:\n" + "\n".join(lines)


def register(subparsers: Any) -> None:
    """Add the `dam` sub-command with `build`, `propose` and `score`."""
    from ..dam.strategies import available_strategies

    p = subparsers.add_parser("dam", help="DAM data-acquisition marketplaces: build, propose, score")
    sub = p.add_subparsers(dest="dam_command", required=True)

    b = sub.add_parser("build", help="build simulated marketplaces from a labelled dataset")
    b.add_argument("--data", required=True, help="labelled data: folder, .jsonl/.csv/.parquet file or Hub id")
    b.add_argument("--split", default="train", help="split of --data when it is a Hub id")
    b.add_argument(
        "--feature-column", "--embedding-column", dest="embedding_column", help="feature column (fixed-width floats)"
    )
    b.add_argument("--text-column", help="text column to embed with --embedder when there is no feature column")
    b.add_argument("--embedder", help="encoder path or Hub id for --text-column")
    b.add_argument("--label-column", required=True, help="label column of the data")
    b.add_argument("--marketplaces", type=int, default=5, help="marketplaces to build (default 5)")
    b.add_argument("--sellers", type=int, default=20, help="sellers per marketplace (default 20)")
    b.add_argument("--cost-scale", type=float, default=0.1, help="budget = cost_scale x 100 (default 0.1)")
    b.add_argument("--buyer-size", type=int, default=1000, help="rows of the buyer's own data per marketplace")
    b.add_argument("--offtask", help="data of another task (same features) for the off-task sellers")
    b.add_argument("--config", help="a DamConfig JSON file; command-line options override it")
    b.add_argument("--seed", type=int, required=True, help="seed of the simulator (same seed, same marketplaces)")
    b.add_argument("--out", required=True, help="market directory to write")
    b.set_defaults(func=run_build)

    pr = sub.add_parser(
        "propose",
        help="a strategy's purchase for every marketplace (DataPerf files k.txt)",
        description=_strategy_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pr.add_argument("--market", required=True, help="market directory from `dam build`")
    pr.add_argument(
        "--strategy", required=True, choices=available_strategies(), help="buyer strategy: one of {%(choices)s}"
    )
    pr.add_argument("--budget", type=float, help="override every marketplace's budget")
    pr.add_argument("--seed", type=int, default=0, help="seed of the strategy's random choices")
    pr.add_argument("--out", required=True, help="submission directory (0.txt, 1.txt, ...)")
    pr.set_defaults(func=run_propose)

    s = sub.add_parser("score", help="score a submission with the official DataPerf rule")
    s.add_argument("--market", required=True, help="market directory from `dam build`")
    s.add_argument("--submission", required=True, help="directory of k.txt (or k.csv) files")
    s.add_argument("--budget", type=float, help="override every marketplace's budget")
    s.add_argument("--trials", type=int, help="evaluation trials (default: the market's config, 10)")
    s.add_argument("--out", required=True, help="scores.json to write")
    s.set_defaults(func=run_score)


def run_build(args: argparse.Namespace) -> int:
    from ..core.io import prepare_output_dir
    from ..dam import DamConfig, Simulator, save_markets

    params: dict[str, Any] = DamConfig.from_json(args.config).to_dict() if args.config else {}
    params.pop("method", None)
    if not args.embedding_column and not args.text_column:
        raise ConfigError("give --feature-column (precomputed features) or --text-column with --embedder")
    params.update(
        label_column=args.label_column,
        n_marketplaces=args.marketplaces,
        n_sellers=args.sellers,
        cost_scale=args.cost_scale,
        buyer_size=args.buyer_size,
        seed=args.seed,
    )
    if args.embedding_column:
        params["embedding_column"] = args.embedding_column
    if args.text_column:
        params.update(text_column=args.text_column, embedder=args.embedder)
    config = DamConfig.from_dict(params)
    data = load_table(args.data, split=args.split)
    offtask = load_table(args.offtask, split=args.split) if args.offtask else None
    markets = Simulator(config).build(data, offtask=offtask)
    out = prepare_output_dir(args.out, run_config=config.to_dict())
    save_markets(markets, out, config)
    sizes = [int(m.public.sizes.sum()) for m in markets]
    print(f"built {len(markets)} marketplaces x {config.n_sellers} sellers (seller rows {sizes}), budget "
          f"{config.budget:g}; wrote {out}")  # fmt: skip
    return 0


def run_propose(args: argparse.Namespace) -> int:
    from ..dam import check_purchase, get_strategy, load_public_markets, write_submission

    views = load_public_markets(args.market)
    strategy = get_strategy(args.strategy, seed=args.seed)
    purchases = []
    for view in views:
        v = view if args.budget is None else view.with_budget(args.budget)
        purchases.append(check_purchase(v, strategy.propose(v)).tolist())
    out = write_submission(args.out, purchases)
    print(f"{args.strategy}: rows bought per marketplace {[sum(p) for p in purchases]}; wrote {out}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..core.io import write_json_atomic
    from ..dam import DamBenchmark, DamConfig, load_markets, read_submission
    from ..dam.storage import read_manifest

    config = DamConfig.from_dict(read_manifest(args.market)["config"])
    if args.trials is not None:
        config = replace(config, trials=args.trials)
    markets = load_markets(args.market)
    purchases = read_submission(args.submission, len(markets), markets[0].public.n_sellers)
    result = DamBenchmark(config).score(markets, purchases, strategy=Path(args.submission).name, budget=args.budget)
    body = result.summary()
    body["submission"] = str(args.submission)
    write_json_atomic(args.out, body)
    print(f"score {result.score:.4f}, accuracy {result.accuracy:.4f} (means over {len(markets)} marketplaces); "
          f"wrote {args.out}")  # fmt: skip
    return 0
