"""Loading the CLI's dataset, JSON and model arguments: one rule for every sub-command.

Every failure is a [`~hf_datavalue.core.errors.DataValueError`] that names the file (and the line or row) and
what to fix: a missing file, an empty file, a line that is not JSON, bytes that are not UTF-8, a Hub id that
does not resolve.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, EmptyDatasetError

__all__ = ["load_json_file", "load_table", "looks_like_local_path"]

_FORMATS = (("json", (".jsonl", ".json")), ("csv", (".csv",)), ("parquet", (".parquet",)))
_TEXT_FORMATS = ("json", "csv")
_ARROW_INDEX_RE = re.compile(r"index (\d+)")


def looks_like_local_path(path: str) -> bool:
    """`True` for strings that can only mean a local file or folder (a known suffix, `./`, `/`, `~`)."""
    if path.startswith(("/", "./", "../", "~", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    suffixes = "".join(Path(path).suffixes[-2:]).lower()
    return any(suffixes.endswith(e) or suffixes.endswith(e + ".gz") for _, exts in _FORMATS for e in exts)


def _format_of(p: Path) -> str | None:
    suffixes = "".join(p.suffixes[-2:]).lower()
    for fmt, exts in _FORMATS:
        if any(suffixes.endswith(e) or suffixes.endswith(e + ".gz") for e in exts):
            return fmt
    return None


def _open_text_bytes(p: Path) -> Any:
    return gzip.open(p, "rb") if p.suffix.lower() == ".gz" else open(p, "rb")


def _check_utf8(p: Path, what: str) -> None:
    """Raise naming the first line that is not valid UTF-8 (datasets would otherwise fail later, or not at all).

    The file is decoded in 16 MB chunks (C speed); only when that fails is it rescanned line by line to name the line.
    """
    try:
        decoder = codecs.getincrementaldecoder("utf-8")()
        with _open_text_bytes(p) as handle:
            try:
                while chunk := handle.read(1 << 24):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return
            except UnicodeDecodeError:
                pass
        with _open_text_bytes(p) as handle:
            for lineno, raw in enumerate(handle, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise ConfigError(
                        f"{what} file {p}: line {lineno} is not valid UTF-8 (byte {raw[err.start : err.start + 1]!r} "
                        f"at column {err.start + 1}); re-encode the file as UTF-8"
                    ) from None
        raise ConfigError(f"{what} file {p} ends in the middle of a UTF-8 character; re-encode the file as UTF-8")
    except (OSError, EOFError) as err:  # a truncated or corrupt .gz
        raise ConfigError(f"cannot read {what} file {p}: {err}") from err


def _has_content(p: Path) -> bool:
    try:
        with _open_text_bytes(p) as handle:
            for raw in handle:
                if raw.strip():
                    return True
    except (OSError, EOFError) as err:
        raise ConfigError(f"cannot read {p}: {err}") from err
    return False


def _json_problem(p: Path) -> str:
    """Where a JSON / JSON Lines file stops being valid JSON."""
    with _open_text_bytes(p) as handle:
        data = handle.read().decode("utf-8", errors="replace")
    try:
        json.loads(data)
        whole_ok = True
    except json.JSONDecodeError:
        whole_ok = False
    if not whole_ok:
        for lineno, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                return f"line {lineno} is not valid JSON ({err.msg} at column {err.colno})"
            if not isinstance(row, dict):
                return f"line {lineno} is a JSON {type(row).__name__}, not an object with one key per column"
    return "its rows do not form a table (each row must be an object with the same columns and types)"


def _check_arrow_text(ds: Any, path: str, what: str) -> None:
    """Raise naming the first row whose strings are not valid UTF-8 (arrow accepts them; reading them fails)."""
    import pyarrow as pa

    table = ds.data.table if hasattr(ds, "data") else None
    if table is None:
        return
    for name in table.column_names:
        offset = 0
        for chunk in table.column(name).chunks:
            try:
                chunk.validate(full=True)
            except pa.ArrowInvalid as err:
                match = _ARROW_INDEX_RE.search(str(err))
                where = f"row {offset + int(match.group(1))}" if match else f"rows {offset}-{offset + len(chunk) - 1}"
                raise ConfigError(
                    f"{what} {path}: column {name!r} {where} holds invalid data ({err}); re-encode the text as UTF-8"
                ) from None
            offset += len(chunk)


def _check_parquet_text(p: Path, what: str) -> None:
    """The streaming counterpart of `_check_arrow_text`: validate the file batch by batch without loading it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    offset = 0
    try:
        for batch in pq.ParquetFile(p).iter_batches(batch_size=65_536):
            for name, column in zip(batch.schema.names, batch.columns):
                try:
                    column.validate(full=True)
                except pa.ArrowInvalid as err:
                    match = _ARROW_INDEX_RE.search(str(err))
                    where = f"row {offset + int(match.group(1))}" if match else f"a row after {offset}"
                    raise ConfigError(
                        f"{what} {p}: column {name!r} {where} holds invalid data ({err}); re-encode the text as UTF-8"
                    ) from None
            offset += batch.num_rows
    except (OSError, pa.ArrowException) as err:
        raise ConfigError(f"cannot read {what} file {p}: {err}") from err


def load_table(path: str, split: str = "train", streaming: bool = False, what: str = "data") -> Any:
    """A `datasets` table from a JSON Lines/JSON/CSV/Parquet file, a `save_to_disk` folder or a Hub id.

    Args:
        path (`str`): the file, folder or Hub dataset id.
        split (`str`, *optional*, defaults to `"train"`): the split to read.
        streaming (`bool`, *optional*, defaults to `False`): return an `IterableDataset`.
        what (`str`, *optional*): how error messages name the argument (`"--train"`).

    Raises:
        [`ConfigError`]: the file does not exist, is not valid UTF-8 / JSON / CSV / parquet, or the Hub id does not
            resolve. [`EmptyDatasetError`]: the file holds no rows.
    """
    import datasets

    p = Path(path).expanduser()
    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "state.json").exists()):
        try:
            ds = datasets.load_from_disk(str(p))
        except (OSError, ValueError) as err:
            raise ConfigError(f"{what} {path}: cannot read the saved dataset ({err})") from err
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ConfigError(f"{what} {path} has splits {list(ds)}, not {split!r}")
            ds = ds[split]
        _check_loaded(ds, path, what)
        return ds.to_iterable_dataset() if streaming else ds
    fmt = _format_of(p)
    if fmt is not None or p.exists():
        if not p.exists():
            raise ConfigError(f"{what} file {path} does not exist")
        if fmt is None or p.is_dir():
            raise ConfigError(
                f"cannot read {what} {path}: use a .jsonl, .json, .csv or .parquet file (optionally .gz) or a "
                "save_to_disk folder"
            )
        if p.stat().st_size == 0 or (fmt in _TEXT_FORMATS and not _has_content(p)):
            raise EmptyDatasetError(f"{what} file {path} is empty; it must hold at least one row")
        if fmt in _TEXT_FORMATS:
            _check_utf8(p, what)
        ds = _load_file(datasets, fmt, p, split, streaming, what)
        if not streaming:
            _check_loaded(ds, path, what)
        elif fmt == "parquet":
            _check_parquet_text(p, what)
        return ds
    if looks_like_local_path(path):
        raise ConfigError(f"{what} {path} does not exist")
    return _load_hub(datasets, path, split, streaming, what)


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _load_file(datasets: Any, fmt: str, p: Path, split: str, streaming: bool, what: str) -> Any:
    import pyarrow as pa

    try:
        with _quiet_datasets():  # datasets logs its own ERROR line before raising; ours names the line to fix
            return datasets.load_dataset(fmt, data_files=str(p), split=split, streaming=streaming)
    except (datasets.exceptions.DatasetGenerationError, pa.ArrowInvalid, json.JSONDecodeError) as err:
        cause = err.__cause__ or err.__context__ or err
        if fmt == "json":
            problem = _json_problem(p)
        elif fmt == "csv":
            problem = (
                f"it is not a valid CSV file ({str(cause).splitlines()[0] if str(cause) else type(cause).__name__})"
            )
        else:
            problem = f"it is not a valid parquet file ({cause})"
        raise ConfigError(f"cannot read {what} file {p}: {problem}") from err
    except (OSError, pa.ArrowException) as err:  # e.g. a parquet file with a bad footer
        raise ConfigError(f"cannot read {what} file {p}: {err}") from err
    except ValueError as err:  # a header-only CSV: 'Instruction "train" corresponds to no data!'
        if "corresponds to no data" in str(err):
            raise EmptyDatasetError(f"{what} file {p} holds no rows") from err
        raise ConfigError(f"cannot read {what} file {p}: {err}") from err


def _load_hub(datasets: Any, path: str, split: str, streaming: bool, what: str) -> Any:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(path)
    except HFValidationError as err:
        raise ConfigError(f"{what} {path!r} does not exist and is not a valid Hub dataset id (org/name)") from err
    try:
        return datasets.load_dataset(path, split=split, streaming=streaming)
    except datasets.exceptions.DatasetNotFoundError as err:
        raise ConfigError(
            f"{what} {path!r} is neither a local file or folder nor a dataset on the Hub (offline: not in the cache)"
        ) from err
    except HFValidationError as err:
        raise ConfigError(f"{what} {path!r} is neither an existing local path nor a valid Hub dataset id") from err
    except ConnectionError as err:  # offline mode, or no network
        raise ConfigError(
            f"{what} {path!r} is not a local file or folder, and the Hub cannot be reached to load it as a dataset id "
            f"({err}); check the path, or go online (HF_HUB_OFFLINE=0)"
        ) from err
    except ValueError as err:  # e.g. an unknown split: "Unknown split 'x'. Should be one of ['train']."
        raise ConfigError(f"{what} {path!r}: {err}") from err


def _check_loaded(ds: Any, path: str, what: str) -> None:
    if len(ds) == 0:
        raise EmptyDatasetError(f"{what} {path} holds no rows")
    _check_arrow_text(ds, path, what)


def load_json_file(path: str, what: str = "JSON file") -> Any:
    """Read a JSON file given on the command line; errors name the file, the line and the column."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{what} {path} does not exist" if not p.exists() else f"{what} {path} is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path} is not valid UTF-8 (byte {err.start}); re-encode it") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from err
