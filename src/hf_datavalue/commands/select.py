"""`hf-datavalue select`: GOT-D selection of pre-fine-tuning data from a candidate pool.

Usage:

```bash
hf-datavalue select --pool pool.jsonl --target target.jsonl --k 20000 --out outputs/gotd/run1 \
    --embedder sentence-transformers/all-MiniLM-L6-v2 --domain-column domain --chunk-size 1000
```

Writes into `--out`: `selected.parquet` (the selected rows, or only `row_idx` + `gotd_score` with
`--write ids`), `scores.parquet` (every row, provenance in the schema metadata), `chunk_scores.parquet`,
`config.json`, `meta.json`, and `scores_by_domain.png` when a domain column is given. Rerunning the same
command resumes an interrupted run from its finished shards; a folder of another run (another config, or
shards of other pool rows) is refused unless `--overwrite`, which recomputes what differs.

The same command runs under `accelerate launch`, with the identical selection: every process embeds and
scores its own pool shards, rank 0 solves and writes.

```bash
accelerate launch --multi_gpu --num_processes 2 -m hf_datavalue.cli select --pool pool.jsonl \
    --target target.jsonl --k 20000 --out outputs/gotd/run1
```
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.rows import ROW_KEY
from ._args import add_config_arguments, config_from_args
from ._data import load_table

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the `select` sub-command."""
    p = subparsers.add_parser(
        "select",
        help="GOT-D: select the k pool rows that move a pre-trained model toward a target task",
        description="Score a candidate pool against a target sample with GOT-D (lower = select first) and "
        "write the k best rows, the scores and a score-by-domain plot.",
    )
    p.add_argument("--pool", required=True, help="candidate pool: .jsonl/.json/.csv/.parquet, saved dataset or Hub id")
    p.add_argument("--target", required=True, help="target-task sample (same formats)")
    p.add_argument("--k", type=int, required=True, help="how many pool rows to select")
    p.add_argument("--out", required=True, help="output folder (resumable run folder)")
    p.add_argument("--split", default="train", help="split to read from Hub ids and files")
    p.add_argument("--config", help="a GotdConfig JSON file; the flags below override it")
    from ..gotd import GotdConfig

    # every GotdConfig field is a flag with its dataclass help (--eps, --mode, --embedder, --text-column, ...)
    add_config_arguments(p.add_argument_group("GotdConfig"), GotdConfig, exclude={"k", "progress"})
    p.add_argument("--streaming", action="store_true", help="read the pool as an IterableDataset")
    p.add_argument("--write", choices=["rows", "ids"], default="rows", help="selected rows or only ids and scores")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start an output folder of another run (config or data) clean instead of refusing",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _is_main_process() -> bool:
    from ..core.distributed import process_context

    return process_context().is_main


def run(args: argparse.Namespace) -> int:
    """Run the selection; returns 0."""
    from ..core.io import write_parquet_atomic
    from ..gotd import GotdConfig, GotdSelector

    if args.k is None or args.k <= 0:
        raise ConfigError(f"--k must be a positive integer, got {args.k}")
    base = GotdConfig.from_json(args.config).to_dict() if args.config else {}
    base.pop("k", None)
    config = config_from_args(GotdConfig, args, base=base, **({"progress": False} if args.no_progress else {}))
    pool = load_table(args.pool, args.split, streaming=args.streaming, what="--pool")
    target = load_table(args.target, args.split, what="--target")
    selector = GotdSelector(config).fit(pool, target, k=args.k, output_dir=args.out, overwrite=args.overwrite)
    result = selector.result
    out = Path(args.out)
    chosen = result.selected_ids(args.k)
    if not _is_main_process():  # every process holds the same result; rank 0 writes
        return 0
    if args.write == "ids":
        table: Any = {ROW_KEY: chosen, "gotd_score": result.scores_of(chosen)}
    else:
        rows = selector.select(pool, args.k)
        if args.streaming:
            import datasets

            rows = datasets.Dataset.from_list(list(rows))
        table = rows.flatten_indices().data.table
    write_parquet_atomic(out / "selected.parquet", table, metadata=result.provenance.to_dict())
    info = result.solve_info
    logger.info(
        "selected %d of %d rows into %s (OT value %.4g, eps %.3g, %d iterations, marginal error %.2e)",
        len(chosen), len(result.row_idx), out / "selected.parquet", info["ot_value"], info["eps"],
        info["n_iter"], info["target_marginal_error"],
    )  # fmt: skip
    print(
        f"selected {len(chosen)} rows -> {out / 'selected.parquet'} (best score {float(np.nanmin(result.score)):.4g})"
    )
    return 0
