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

__all__ = ["build_parser", "commands", "main"]

# Sub-command modules under hf_datavalue.commands that belong to no method (the Hub adapters).
ADAPTER_COMMANDS: tuple[str, ...] = ("hub",)


def commands() -> list[str]:
    """Sub-command modules in --help order: each registered method's `cli_command`, then the adapters'."""
    from .core.registry import METHODS

    names: list[str] = []
    for spec in METHODS.values():
        if spec.cli_command and spec.cli_command not in names:
            names.append(spec.cli_command)
    return [*names, *ADAPTER_COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="hf-datavalue", description="Data valuation for HuggingFace datasets.")
    parser.add_argument("--version", action="version", version=f"hf_datavalue {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in commands():
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
