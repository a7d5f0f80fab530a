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
import json
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .core.errors import DataValueError, MissingDependencyError

__all__ = ["CliParser", "build_parser", "commands", "describe_error", "main"]

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


class CliParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one `error:` line (exit code 2) that points at `--help`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = CliParser(prog="hf-datavalue", description="Data valuation for HuggingFace datasets.")
    parser.add_argument("--version", action="version", version=f"hf_datavalue {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    for name in commands():
        importlib.import_module(f"hf_datavalue.commands.{name}").register(subparsers)
    return parser


def _hub_error_classes() -> dict[str, type[BaseException]]:
    try:
        from huggingface_hub import errors
    except ImportError:  # pragma: no cover - a core dependency
        return {}
    names = ("RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError", "GatedRepoError",
             "OfflineModeIsEnabled", "HFValidationError", "HfHubHTTPError")  # fmt: skip
    return {n: getattr(errors, n) for n in names if hasattr(errors, n)}


def _known_error_classes() -> tuple[type[BaseException], ...]:
    classes = list(_hub_error_classes().values())
    try:
        from datasets.exceptions import DatasetBuildError, DatasetsError

        classes += [DatasetBuildError, DatasetsError]
    except ImportError:  # pragma: no cover - a core dependency
        pass
    return tuple(classes)


def describe_error(err: BaseException) -> str | None:
    """One line that says what went wrong and what to fix, for the exception families a user's input causes
    (library errors, missing files, bad JSON, Hub look-ups); `None` for anything else, which is a bug and keeps
    its traceback."""
    hub = _hub_error_classes()

    def is_a(name: str) -> bool:
        return name in hub and isinstance(err, hub[name])

    if isinstance(err, DataValueError | MissingDependencyError):
        return str(err)
    if is_a("GatedRepoError"):
        return f"access to this Hub repo is restricted: log in with `hf auth login` and request access ({_first(err)})"
    if is_a("RepositoryNotFoundError"):
        return (
            f"Hub repo not found (or private without a token): check the repo id and `hf auth login` ({_first(err)})"
        )
    if is_a("RevisionNotFoundError"):
        return f"revision not found on the Hub: check --revision (a branch, tag or commit sha) ({_first(err)})"
    if is_a("EntryNotFoundError"):
        offline = "LocalEntryNotFound" in type(err).__name__
        hint = "not in the local cache and the Hub is not reachable (offline?)" if offline else "not in the repo"
        return f"file {hint}: check --config / --revision, or go online ({_first(err)})"
    if is_a("OfflineModeIsEnabled"):
        return f"the Hub is needed but HF_HUB_OFFLINE=1 is set: go online or use a cached revision ({_first(err)})"
    if is_a("HFValidationError"):
        return f"not a valid Hub id (org/name) or existing local path: {_first(err)}"
    if is_a("HfHubHTTPError"):
        return f"the Hub request failed: {_first(err)}"
    if type(err).__name__ == "DatasetNotFoundError":
        return f"dataset not found on the Hub (or offline and not cached): check the path or id ({_first(err)})"
    if isinstance(err, _known_error_classes()) and not isinstance(err, OSError | ValueError):  # datasets' own
        cause = err.__cause__ or err.__context__
        return f"{_first(err)}" + (f": {_first(cause)}" if cause is not None else "")
    if isinstance(err, json.JSONDecodeError):
        return f"invalid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
    if isinstance(err, UnicodeDecodeError):
        return f"a file is not valid UTF-8 ({err.reason} at byte {err.start}); re-encode it as UTF-8"
    if isinstance(err, FileNotFoundError):
        return f"no such file or folder: {err.filename or _first(err)}"
    if isinstance(err, IsADirectoryError | NotADirectoryError):
        return f"{err.strerror}: {err.filename}; check the path"
    if isinstance(err, PermissionError):
        return f"permission denied: {err.filename or _first(err)}; check the path and its permissions"
    if isinstance(err, OSError):  # transformers' "... is not a local folder and is not a valid model identifier"
        return _first(err, limit=400)
    return None


def _first(err: BaseException, limit: int = 300) -> str:
    """The message of `err` as one line (the first non-empty lines joined), cut at `limit` characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = " ".join(lines[:3]) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hf-datavalue`; returns the process exit code (2 on bad input, with one `error:` line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    known: tuple[type[BaseException], ...] = (
        DataValueError,
        MissingDependencyError,
        OSError,
        ValueError,
        *_known_error_classes(),
    )
    try:
        return int(args.func(args) or 0)
    except known as err:
        message = describe_error(err)
        if message is None:  # a ValueError we do not know: a bug, keep the traceback
            raise
        print("error: " + " ".join(message.split("\n")), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
