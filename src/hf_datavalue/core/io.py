"""Atomic, pickle-free result files and the guarded output folder every method writes into.

Results are written to a temporary file in the same folder and moved into place with `os.replace`, so a
crash never leaves a half-written file behind. The temporary file is named `.<name>.<pid>.<token>.tmp`, created
with mode `0o666` minus the process umask (so results get the same permissions as any file the user creates), and
the next write of the same target removes temporary files that a killed process (a dead pid) left behind.
[`prepare_output_dir`] refuses to mix two different runs in one folder unless asked to overwrite;
[`check_output_file`] refuses to replace an existing output file unless asked to.

Usage:

```python
from hf_datavalue.core.io import prepare_output_dir, write_json_atomic

out = prepare_output_dir("outputs/lava/run1", run_config={"eps": 0.1})
write_json_atomic(out / "meta.json", {"n_rows": 10})
```
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, OutputExistsError

__all__ = [
    "atomic_path",
    "check_output_file",
    "clean_stale_temp_files",
    "prepare_output_dir",
    "read_json",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]


logger = logging.getLogger(__name__)

# A temporary file whose name does not carry a pid (written by an older version) is removed once it is this old.
_LEGACY_TMP_AGE_S = 3600.0


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return False
    return True


def clean_stale_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files of `path` that a killed writer left behind; returns the removed paths.

    A temporary file `.<name>.<pid>.<token>.tmp` is stale when process `<pid>` is gone. Files of live writers
    (another process writing the same target right now) are kept.
    """
    path = Path(path)
    prefix, removed = f".{path.name}.", list[Path]()
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        middle = tmp.name[len(prefix) : -len(".tmp")]
        pid_text = middle.split(".")[0]
        try:
            if pid_text.isdigit() and "." in middle:
                stale = not _pid_alive(int(pid_text))
            else:  # an older, pid-less name: remove only when clearly abandoned
                stale = time.time() - tmp.stat().st_mtime > _LEGACY_TMP_AGE_S
            if stale:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # removed concurrently
            continue
    if removed:
        logger.info("removed %d stale temporary file(s) of %s left by killed writers", len(removed), path)
    return removed


def atomic_path(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call `writer(tmp_path)` and atomically move the result to `path`.

    The temporary file lives beside `path` (same file system, so the move is atomic), is created with the
    permissions the umask allows (`0o666 & ~umask`, as `open()` would) and is named `.<name>.<pid>.<token>.tmp`;
    stale temporary files of the same target left by killed writers are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temp_files(path)
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
        except FileExistsError:  # pragma: no cover - a 32-bit token collision
            continue
        os.close(fd)
        break
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_output_file(path: str | os.PathLike[str], overwrite: bool = False, flag: str = "--overwrite") -> Path:
    """Refuse to replace an existing output file unless `overwrite` is set.

    Raises:
        [`OutputExistsError`]: `path` exists and `overwrite` is `False`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pick another output path or pass {flag} to replace it")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file path")
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_path(path, lambda tmp: tmp.write_bytes(data))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as pretty, key-sorted JSON atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file.

    Raises:
        [`ConfigError`]: the file is not valid UTF-8 or not valid JSON (the message names the file, line and column).
        `FileNotFoundError`: the file does not exist.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not valid UTF-8 (byte {err.start}); re-encode it") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None


def write_parquet_atomic(path: str | os.PathLike[str], table: Any, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a `pyarrow.Table` (or anything `pyarrow.table` accepts) to parquet atomically.

    `metadata` is stored as JSON under the schema metadata key `hf_datavalue`, so the file carries its run's
    provenance wherever it goes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tbl = table if isinstance(table, pa.Table) else pa.table(table)
    if metadata is not None:
        existing = dict(tbl.schema.metadata or {})
        existing[b"hf_datavalue"] = json.dumps(metadata, sort_keys=True, default=str).encode("utf-8")
        tbl = tbl.replace_schema_metadata(existing)
    return atomic_path(path, lambda tmp: pq.write_table(tbl, tmp))


def prepare_output_dir(
    path: str | os.PathLike[str], run_config: Mapping[str, Any] | None = None, overwrite: bool = False
) -> Path:
    """Create `path` for a run and guard it against mixing runs.

    A folder that holds a `run_config.json` from a *different* configuration raises [`OutputExistsError`]
    unless `overwrite=True`; the same configuration is accepted, so interrupted runs can resume in place.
    """
    path = Path(path)
    marker = path / "run_config.json"
    if marker.exists() and run_config is not None and not overwrite:
        previous = read_json(marker)
        current = json.loads(json.dumps(dict(run_config), sort_keys=True, default=str))
        if previous != current:
            raise OutputExistsError(
                f"{path} already holds results of another run (its run_config.json differs); "
                "pick another output folder or pass overwrite=True"
            )
    path.mkdir(parents=True, exist_ok=True)
    if run_config is not None:
        write_json_atomic(marker, dict(run_config))
    return path
