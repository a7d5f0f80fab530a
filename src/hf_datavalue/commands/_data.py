"""Loading the CLI's dataset arguments: one rule for every sub-command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import ConfigError

__all__ = ["load_table"]


def load_table(path: str, split: str = "train", streaming: bool = False) -> Any:
    """A `datasets` table from a JSON Lines/JSON/CSV/Parquet file, a `save_to_disk` folder or a Hub id."""
    import datasets

    p = Path(path)
    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "state.json").exists()):
        ds = datasets.load_from_disk(str(p))
        return ds.to_iterable_dataset() if streaming else ds
    suffixes = "".join(p.suffixes[-2:]).lower()
    for fmt, exts in (("json", (".jsonl", ".json")), ("csv", (".csv",)), ("parquet", (".parquet",))):
        if any(suffixes.endswith(e) or suffixes.endswith(e + ".gz") for e in exts):
            return datasets.load_dataset(fmt, data_files=str(p), split=split, streaming=streaming)
    if p.exists():
        raise ConfigError(f"cannot read {path}: use .jsonl, .json, .csv, .parquet or a save_to_disk folder")
    return datasets.load_dataset(path, split=split, streaming=streaming)
