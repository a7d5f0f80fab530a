"""`hf-datavalue push`, `hf-datavalue pull` and `hf-datavalue attach`: the Hub functions on the command line.

The Hub endpoint and token come from the usual `HF_ENDPOINT` / `HF_TOKEN` / `hf auth login`; there is no `--token`
flag, so a token never shows up in a process list or a shell history. Each command prints one JSON line.

Usage:

```bash
hf-datavalue push outputs/lava/run1/values.parquet --repo me/sst2-values --config lava   # meta.json beside it
hf-datavalue pull me/sst2-values --config lava --revision lava-v1 --out pulled/
hf-datavalue attach me/sst2-values --config lava --data train.jsonl --out train_with_values.parquet
```
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, DataValueError, ValueTableError
from ._data import load_json_file, load_table

logger = logging.getLogger(__name__)

__all__ = ["register"]


def _read_provenance(values_path: Path, meta: str | None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..core.provenance import ValueProvenance

    if meta:
        data = load_json_file(meta, "--meta file")
    else:
        try:
            schema_meta = pq.read_schema(values_path).metadata or {}
        except (OSError, pa.ArrowException) as err:
            raise ConfigError(f"{values_path} is not a readable parquet file: {err}") from err
        if b"hf_datavalue" in schema_meta:
            try:
                data = json.loads(schema_meta[b"hf_datavalue"])
            except json.JSONDecodeError as err:
                raise ValueTableError(
                    f"{values_path}: its hf_datavalue schema metadata is not JSON ({err.msg})"
                ) from err
        elif (values_path.parent / "meta.json").is_file():
            data = load_json_file(str(values_path.parent / "meta.json"), "meta.json")
        else:
            raise DataValueError(
                f"no provenance for {values_path}: pass --meta, or keep the run's meta.json beside the parquet"
            )
    if isinstance(data, dict) and isinstance(data.get("provenance"), dict):
        data = data["provenance"]  # a run's meta.json may wrap the provenance with other run facts
    required = ("method", "score_column", "score_semantics", "n_rows", "row_fingerprint")
    if not isinstance(data, dict) or any(k not in data for k in required):
        raise ValueTableError(f"the provenance JSON must be an object with at least the fields {list(required)}")
    try:
        return ValueProvenance.from_dict(data)
    except TypeError as err:
        raise ValueTableError(f"the provenance JSON is malformed: {err}") from err


def _load_local(path: str, what: str) -> Any:
    if not Path(path).exists():
        raise ConfigError(f"{what} {path} does not exist; give a .parquet/.jsonl/.csv file or a save_to_disk folder")
    return load_table(path, what=what)


def run_push(args: argparse.Namespace) -> int:
    import datasets

    from ..hub_cards import push_values

    path = Path(args.values)
    if not path.exists():
        raise ConfigError(f"values {path} does not exist; give the values parquet or the run folder holding it")
    if path.is_dir():
        candidates = (
            [path / "values.parquet"] if (path / "values.parquet").is_file() else sorted(path.glob("*.parquet"))
        )
        if len(candidates) != 1:
            raise DataValueError(
                f"{path} must hold values.parquet or exactly one .parquet file, found {len(candidates)}"
            )
        path = candidates[0]
    provenance = _read_provenance(path, args.meta)
    if args.source_revision:
        provenance.source_revision = args.source_revision
    try:
        values = datasets.Dataset.from_parquet(str(path))
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read the values parquet {path}: {err}") from err
    source_arg = args.source
    recorded_source = provenance.extra.get("source_path") if isinstance(provenance.extra, dict) else None
    if source_arg is None and not args.no_row_hashes and isinstance(recorded_source, str):
        if Path(recorded_source).exists():
            source_arg = recorded_source  # the rows the method valued: record their hashes by default
            logger.info("recording row hashes of %s (the run's source_path); --no-row-hashes skips this", source_arg)
        else:
            logger.warning(
                "the run's source %s is not here: the values get no row hashes (pass --source to record them)",
                recorded_source,
            )
    source = _load_local(source_arg, "--source") if source_arg and not args.no_row_hashes else None
    result = push_values(
        values,
        args.repo,
        args.config,
        provenance,
        source=source,
        private=args.private or None,
        histogram=not args.no_histogram,
        tag=args.tag,
    )
    print(
        json.dumps(
            {"repo_id": result.repo_id, "config": result.config, "commit": result.commit_sha, "url": result.commit_url}
        )
    )
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from ..core.io import check_output_file, write_json_atomic, write_parquet_atomic
    from ..hub_cards import load_values

    out = Path(args.out)
    for name in ("values.parquet", "meta.json"):
        check_output_file(out / name, overwrite=args.overwrite)
    loaded = load_values(args.repo, args.config, revision=args.revision)
    table = loaded.values.with_format("arrow")[:]
    write_parquet_atomic(out / "values.parquet", table, metadata=loaded.metadata)
    write_json_atomic(out / "meta.json", loaded.metadata)
    print(
        json.dumps(
            {
                "repo_id": args.repo,
                "config": args.config,
                "revision": loaded.revision,
                "n_rows": len(loaded.values),
                "out": str(out),
            }
        )
    )
    return 0


def run_attach(args: argparse.Namespace) -> int:
    from ..core.io import check_output_file, write_parquet_atomic
    from ..hub_cards import attach_values, load_values

    if Path(args.out).suffix != ".parquet":
        raise ConfigError(f"--out must end in .parquet, got {args.out}")
    check_output_file(args.out, overwrite=args.overwrite)
    data = _load_local(args.data, "--data")
    loaded = load_values(args.repo, args.config, revision=args.revision)
    attached = attach_values(
        data,
        loaded,
        source_revision=args.source_revision,
        allow_revision_mismatch=args.allow_revision_mismatch or args.force,
        allow_row_mismatch=args.allow_row_mismatch or args.force,
    )
    write_parquet_atomic(args.out, attached.with_format("arrow")[:], metadata=loaded.metadata)
    print(
        json.dumps(
            {
                "repo_id": args.repo,
                "config": args.config,
                "revision": loaded.revision,
                "n_rows": len(attached),
                "out": args.out,
            }
        )
    )
    return 0


def register(subparsers: Any) -> None:
    """Add the `push`, `pull` and `attach` sub-commands to the `hf-datavalue` parser."""
    push = subparsers.add_parser("push", help="publish a value table as a config of a Hub dataset repo")
    push.add_argument(
        "values", help="values parquet (row_idx + value columns), or a run folder holding values.parquet"
    )
    push.add_argument("--repo", required=True, help="values repo id, e.g. me/sst2-values")
    push.add_argument("--config", help="config name (defaults to the method name)")
    push.add_argument("--meta", help="provenance JSON (defaults to the parquet's metadata or a meta.json beside it)")
    push.add_argument(
        "--source",
        help="local copy of the valued rows (json/csv/parquet), to record row hashes (default: the run's source_path)",
    )
    push.add_argument("--no-row-hashes", action="store_true", help="publish without per-row content hashes")
    push.add_argument("--source-revision", help="commit sha of the source dataset the values were computed on")
    push.add_argument("--private", action="store_true", help="create the repo as private")
    push.add_argument("--no-histogram", action="store_true", help="do not add the histogram image to the card")
    push.add_argument("--tag", help="also tag the published commit (e.g. lava-v1)")
    push.set_defaults(func=run_push)

    pull = subparsers.add_parser("pull", help="download and verify a values config into values.parquet + meta.json")
    pull.add_argument("repo", help="values repo id")
    pull.add_argument("--config", required=True, help="config name, e.g. lava")
    pull.add_argument("--revision", help="branch, tag or commit sha (defaults to main)")
    pull.add_argument("--out", required=True, help="output folder (values.parquet + meta.json)")
    pull.add_argument("--overwrite", action="store_true", help="replace values.parquet/meta.json already in --out")
    pull.set_defaults(func=run_pull)

    attach = subparsers.add_parser("attach", help="join verified Hub values onto a local dataset file by row_idx")
    attach.add_argument("repo", help="values repo id")
    attach.add_argument("--config", required=True, help="config name, e.g. lava")
    attach.add_argument("--revision", help="branch, tag or commit sha of the values (defaults to main)")
    attach.add_argument("--data", required=True, help="the rows (json/jsonl[.gz], csv or parquet)")
    attach.add_argument("--source-revision", help="commit sha the data corresponds to, checked against the values")
    attach.add_argument("--allow-revision-mismatch", action="store_true", help="attach although revisions differ")
    attach.add_argument("--allow-row-mismatch", action="store_true", help="attach although rows differ")
    attach.add_argument("--force", action="store_true", help="both of the above: attach although nothing matches")
    attach.add_argument("--out", required=True, help="output parquet")
    attach.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    attach.set_defaults(func=run_attach)
