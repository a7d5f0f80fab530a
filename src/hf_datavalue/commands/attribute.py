"""`hf-datavalue attribute`: Forward-INF, self-loss or grad-dot scores of a training set from the command line.

Usage:

```bash
hf-datavalue attribute --model ./my-finetuned-bert --train train.jsonl --test test.jsonl \\
    --text-column sentence --label-column label --method forward-inf --mode group --output-dir outputs/finf
hf-datavalue attribute --model ./my-finetuned-bert --train train.jsonl --method self-loss --output-dir outputs/sl
```

Data files are JSON Lines (optionally gzipped), JSON, CSV or parquet, or a folder written by
`Dataset.save_to_disk`. With `--text-column` the text is tokenized with the model folder's tokenizer; otherwise the
files must already hold the model inputs (`input_ids`, ...). The label column is renamed to `labels`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, MissingColumnError
from ._args import add_config_arguments, config_from_args
from ._data import load_table

logger = logging.getLogger(__name__)

__all__ = ["register", "run"]

METHODS = ("forward-inf", "self-loss", "grad-dot")


def register(subparsers: Any) -> None:
    """Add the `attribute` sub-command (its method options are generated from [`ForwardInfConfig`])."""
    from ..attribution import ForwardInfConfig

    p = subparsers.add_parser(
        "attribute",
        help="training-data attribution: Forward-INF, self-loss or grad-dot",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--model", required=True, help="local model folder (save_pretrained output)")
    p.add_argument("--train", required=True, help="training data to score (file or save_to_disk folder)")
    p.add_argument("--test", help="queries with labels (needed for forward-inf and grad-dot)")
    p.add_argument("--method", choices=METHODS, default="forward-inf", help="scoring method (default: forward-inf)")
    p.add_argument("--output-dir", required=True, help="result folder (refuses to overwrite other results)")
    p.add_argument("--overwrite", action="store_true", help="replace results already in --output-dir")
    p.add_argument("--text-column", help="tokenize this column with the model's tokenizer")
    p.add_argument("--label-column", default="label", help="label column, renamed to 'labels' (default: label)")
    p.add_argument("--max-length", type=int, default=128, help="tokenizer truncation length (default: 128)")
    p.add_argument("--absolute", action="store_true", help="report |Δloss| instead of the signed change (reference)")
    group = p.add_argument_group(
        "method options (ForwardInfConfig fields; grad-dot and self-loss read the ones they have)"
    )
    add_config_arguments(group, ForwardInfConfig, exclude={"signed"})
    p.set_defaults(func=run)


def _load(path: str, what: str) -> Any:
    return load_table(path, what=what)


def _model(path: str, task: str) -> Any:
    import transformers

    if not Path(path).expanduser().is_dir():
        raise ConfigError(f"--model {path} is not a folder: give a local model folder (save_pretrained output)")
    if not (Path(path).expanduser() / "config.json").is_file():
        raise ConfigError(f"--model {path} has no config.json: give a folder written by save_pretrained")
    config = transformers.AutoConfig.from_pretrained(path)
    if task == "causal_lm":
        cls: Any = transformers.AutoModelForCausalLM
    elif task == "masked_lm":
        cls = transformers.AutoModelForMaskedLM
    elif task == "token_classification":
        cls = transformers.AutoModelForTokenClassification
    elif task == "auto" and getattr(config, "architectures", None):
        cls = getattr(transformers, config.architectures[0])
    else:
        cls = transformers.AutoModelForSequenceClassification
    return cls.from_pretrained(path)


def _prepare(ds: Any, args: argparse.Namespace, tokenizer: Any, what: str) -> Any:
    if args.label_column != "labels" and args.label_column in ds.column_names:
        ds = ds.rename_column(args.label_column, "labels")
    if args.text_column:
        if args.text_column not in ds.column_names:
            raise MissingColumnError(what, args.text_column, ds.column_names)
        col, max_len = args.text_column, args.max_length
        ds = ds.map(lambda b: tokenizer(b[col], truncation=True, max_length=max_len), batched=True)
    return ds


def run(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    from ..attribution import (
        ForwardInfConfig,
        GradDotConfig,
        SelfLossConfig,
        forward_inf_scores,
        grad_dot_scores,
        self_loss_scores,
    )

    if args.method != "self-loss" and not args.test:
        raise ConfigError(f"--method {args.method} needs --test")
    task = args.task or "auto"
    # validate the options before loading anything heavy
    if args.method == "forward-inf":
        cfg: Any = config_from_args(ForwardInfConfig, args, signed=not args.absolute, task=task)
    elif args.method == "grad-dot":
        cfg = config_from_args(GradDotConfig, args, task=task)
    else:
        cfg = config_from_args(SelfLossConfig, args, task=task)
    train_raw = _load(args.train, "--train")
    test_raw = _load(args.test, "--test") if args.test else None
    model = _model(args.model, task)
    tokenizer = None
    collate = None
    if args.text_column:
        from transformers import AutoTokenizer, DataCollatorWithPadding

        tokenizer = AutoTokenizer.from_pretrained(args.model)
        collate = DataCollatorWithPadding(tokenizer)
    train = _prepare(train_raw, args, tokenizer, "train dataset")
    test = _prepare(test_raw, args, tokenizer, "test dataset") if test_raw is not None else None
    if args.method == "forward-inf":
        result = forward_inf_scores(model, train, test, cfg, collate_fn=collate)
    elif args.method == "grad-dot":
        result = grad_dot_scores(model, train, test, cfg, collate_fn=collate)
    else:
        result = self_loss_scores(model, train, cfg, collate_fn=collate)
    path = result.save(args.output_dir, overwrite=args.overwrite, top_k=cfg.top_k)
    print(f"{result.method}: {result.n_train} rows x {result.n_queries} queries -> {path}")
    return 0
