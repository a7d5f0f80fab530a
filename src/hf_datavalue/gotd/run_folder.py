"""The GOT-D run folder: reused only for the same config and the same data.

`run_config.json` holds the config (all but the budget `k` and `progress`), the embedder identity and the
pre-filter outcome. Opening a folder whose `run_config.json` differs raises
[`~hf_datavalue.core.errors.OutputExistsError`], or, with `overwrite=True`, deletes its shards, scores and solve
(a clean start). The data side is checked shard by shard when the shards are reused
([`~hf_datavalue.gotd.shards.ShardStore.verify_rows`]), and the solve is reused only for the same config, target
and shard contents. Under `accelerate launch` rank 0 prepares the folder and every rank gets its answer.

Usage:

```python
from hf_datavalue.gotd.run_folder import open_run_folder

root = open_run_folder("outputs/gotd/run1", {"config": config.to_dict()}, overwrite=False)
```
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.distributed import ProcessContext, process_context
from ..core.errors import OutputExistsError
from ..core.io import read_json, write_json_atomic
from .shards import ShardStore

__all__ = ["open_run_folder", "run_config_of"]

logger = logging.getLogger(__name__)

_NOT_RUN_FIELDS = ("k", "progress")


def run_config_of(config: Mapping[str, Any], embedder: Mapping[str, Any], kept_domains: Any) -> dict[str, Any]:
    """The JSON identity of a run: config fields that change results, embedder, pre-filter outcome."""
    return json.loads(
        json.dumps(
            {
                "config": {k: v for k, v in config.items() if k not in _NOT_RUN_FIELDS},
                "embedder": dict(embedder),
                "kept_domains": sorted(kept_domains) if kept_domains is not None else None,
            },
            sort_keys=True,
            default=str,
        )
    )


def _prepare(path: str, run_config: dict[str, Any], overwrite: bool) -> str:
    root = Path(path)
    marker = root / "run_config.json"
    if marker.exists():
        previous = read_json(marker)
        if previous != run_config:
            if not overwrite:
                changed = sorted(
                    k
                    for k in set(previous.get("config", {})) | set(run_config["config"])
                    if previous.get("config", {}).get(k) != run_config["config"].get(k)
                )
                changed += [k for k in ("embedder", "kept_domains") if previous.get(k) != run_config.get(k)]
                raise OutputExistsError(
                    f"{root} already holds results of another run (its run_config.json differs in {changed}); "
                    "pick another output folder or pass overwrite=True (--overwrite) to start it clean"
                )
            logger.info("%s holds another run (run_config.json differs): starting clean", root)
            ShardStore(root).clear()
            for name in ("scores.parquet", "chunk_scores.parquet", "selected.parquet", "meta.json"):
                (root / name).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, run_config)
    return str(root)


def open_run_folder(
    output_dir: str | os.PathLike[str],
    run_config: dict[str, Any],
    overwrite: bool = False,
    ctx: ProcessContext | None = None,
) -> Path:
    """Create or reopen the run folder (rank 0 decides; every rank gets the folder or the error)."""
    ctx = ctx or process_context()
    return Path(ctx.on_main(_prepare, str(output_dir), run_config, overwrite))
