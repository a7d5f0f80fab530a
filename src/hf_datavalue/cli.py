"""The `hf-datavalue` command.

Each sub-command lives in `hf_datavalue.commands.<name>` and exposes `register(subparsers)`; the module is
imported only when the CLI starts, so importing the library never pulls the CLI's dependencies.

Usage:

```bash
hf-datavalue lava --train train.jsonl --valid valid.jsonl --label-column label --text-column text --out values.parquet
hf-datavalue --help
```
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .core.errors import DataValueError

__all__ = ["build_parser", "main"]

# Sub-command modules under hf_datavalue.commands, in --help order.
COMMANDS: tuple[str, ...] = ("lava", "select", "mix", "attribute", "hub", "dam")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="hf-datavalue", description="Data valuation for HuggingFace datasets.")
    parser.add_argument("--version", action="version", version=f"hf_datavalue {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hf_datavalue.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hf-datavalue`; returns the process exit code (2 on bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except DataValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
