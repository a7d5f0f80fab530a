"""`hf-datavalue lava`: LAVA values for a training set against a clean validation set.

Usage:

```bash
hf-datavalue lava --train train.jsonl --valid valid.jsonl --label-column label --text-column sentence \
    --embedder sentence-transformers/all-MiniLM-L6-v2 --out values.parquet --plot values.png
hf-datavalue lava --train train_ds/ --valid valid_ds/ --embedding-column embedding --out values.parquet
```

`--train`/`--valid` take a `save_to_disk` folder, a .jsonl/.json/.csv/.parquet file or a Hub dataset id.
The parquet output holds `row_idx` and `lava_value` (higher = more harmful) and carries the run's provenance
(config, library version, source fingerprint) in its schema metadata; `meta.json` is written beside it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.rows import ROW_KEY
from ._args import add_config_arguments, config_from_args
from ._data import load_json_file, load_table

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the `lava` sub-command (its LAVA options are generated from [`LavaConfig`])."""
    from ..lava.config import LavaConfig

    p = subparsers.add_parser(
        "lava",
        help="LAVA values (higher = more harmful) for a labelled training set",
        description="LAVA values of every training row against a clean validation set (higher = more harmful).",
    )
    p.add_argument("--train", required=True, help="training data: folder, .jsonl/.csv/.parquet file or Hub id")
    p.add_argument("--valid", required=True, help="clean validation data, same forms as --train")
    p.add_argument("--train-split", default="train", help="split of --train when it is a Hub id (default: train)")
    p.add_argument("--valid-split", default="train", help="split of --valid when it is a Hub id (default: train)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text-column", help="text (or image) column to embed with --embedder")
    source.add_argument(
        "--embedding-column",
        "--feature-column",
        dest="embedding_column",
        help="existing embedding/logits column (no embedding); --feature-column is the same flag",
    )
    p.add_argument(
        "--embedder",
        help="HF encoder path or Hub id, 'st:<model>' for sentence-transformers, 'image:<model>' or 'pixels'",
    )
    p.add_argument("--config", help="a LavaConfig JSON file; command-line options override it")
    p.add_argument("--out", required=True, help="output parquet file (meta.json is written beside it)")
    p.add_argument("--overwrite", action="store_true", help="replace --out, its meta.json and --plot if they exist")
    p.add_argument("--plot", help="write a histogram of the values to this PNG")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_config_arguments(
        p.add_argument_group("LAVA options (LavaConfig fields)"),
        LavaConfig,
        exclude={"text_column", "embedding_column"},
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute and write the values; prints a short summary."""
    import pyarrow as pa

    from ..core.io import check_output_file, write_json_atomic, write_parquet_atomic
    from ..lava import LavaConfig, LavaValuer, plot_value_histogram

    out = Path(args.out)
    if out.suffix != ".parquet":
        raise ConfigError(f"--out must end in .parquet, got {out}")
    for path in (out, out.with_name("meta.json"), *([Path(args.plot)] if args.plot else [])):
        check_output_file(path, overwrite=args.overwrite)
    params: dict[str, Any] = load_json_file(args.config, "--config file") if args.config else {}
    if not isinstance(params, dict):
        raise ConfigError(f"--config file {args.config} must hold a JSON object of LavaConfig fields")
    config = config_from_args(
        LavaConfig, args, base=params, text_column=args.text_column, embedding_column=args.embedding_column
    )
    if args.text_column and not args.embedder:
        raise ConfigError("--text-column needs --embedder (an encoder path or Hub id)")
    train = load_table(args.train, split=args.train_split, what="--train")
    valid = load_table(args.valid, split=args.valid_split, what="--valid")
    result = LavaValuer(config, embedder=args.embedder, progress=not args.no_progress).compute(train, valid)
    prov = result.provenance
    prov.source_repo = None if Path(args.train).exists() else args.train
    prov.extra["source_path"] = args.train  # local paths are reduced to file names when published on the Hub
    prov.extra["validation_path"] = args.valid
    table = pa.table(
        {ROW_KEY: pa.array(result.row_idx, pa.int64()), "lava_value": pa.array(result.values, pa.float64())}
    )
    write_parquet_atomic(out, table, metadata=prov.to_dict())
    write_json_atomic(out.with_name("meta.json"), prov.to_dict())
    if args.plot:
        plot_value_histogram(result.values, args.plot)
    top = result.most_harmful(min(5, len(result.values)))
    print(
        f"valued {len(result.values)} rows against {len(valid)} (OT distance {result.ot_distance:.4g}, "
        f"{result.ot['n_iter']} Sinkhorn iterations); most harmful row_idx: {top.tolist()}; wrote {out}"
    )
    return 0
