"""`hf-datavalue trace train-verifier` (the shipped MiniLM, one epoch on a slice) and `trace run`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from hf_datavalue.cli import main
from hf_datavalue.fasttrack.evaluation import proponent_rows

from .helpers import tiny_encoder


@pytest.fixture(scope="module")
def files(lama_slice, tmp_path_factory):
    corpus, queries = lama_slice
    folder = tmp_path_factory.mktemp("trace_cli")
    corpus.to_json(str(folder / "corpus.jsonl"))
    queries.to_json(str(folder / "queries.jsonl"))
    queries.remove_columns("statement").to_json(str(folder / "bad_queries.jsonl"))
    (folder / "config.json").write_text(
        json.dumps({"embedding_column": "bow", "tau": 25, "kmeans_backend": "faiss", "max_clusters": 4})
    )
    return folder


def test_trace_run_oracle_writes_traces_and_stats(files, lama_slice, tmp_path):
    corpus, queries = lama_slice
    out = tmp_path / "oracle"
    argv = [
        "trace",
        "run",
        "--corpus",
        str(files / "corpus.jsonl"),
        "--queries",
        str(files / "queries.jsonl"),
        "--out",
        str(out),
        "--verifier",
        "oracle",
        "--config",
        str(files / "config.json"),
        "--no-progress",
        "--license",
        "cc-by-nc-4.0",
    ]
    assert main(argv) == 0
    traces = pq.read_table(out / "traces.parquet").to_pydict()
    props = dict(zip(queries["query_id"], proponent_rows(queries, corpus)))
    assert traces["query_id"] and all(r in props[q] for q, r in zip(traces["query_id"], traces["row_idx"]))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["n_queries"] == len(queries) and stats["calls_per_query"] > 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["extra"]["license"] == "cc-by-nc-4.0" and meta["method"] == "fasttrack"
    assert (out / "index" / "index_meta.json").is_file()
    # a rerun into the same folder refuses to replace finished traces
    assert main(argv) == 2


def test_trace_bad_input_is_one_error_line(files, tmp_path, capsys):
    code = main(
        [
            "trace",
            "run",
            "--corpus",
            str(files / "corpus.jsonl"),
            "--queries",
            str(files / "bad_queries.jsonl"),
            "--out",
            str(tmp_path / "x"),
            "--verifier",
            "oracle",
            "--config",
            str(files / "config.json"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "error:" in capsys.readouterr().err
    assert (
        main(
            [
                "trace",
                "run",
                "--corpus",
                str(files / "corpus.jsonl"),
                "--queries",
                str(files / "queries.jsonl"),
                "--out",
                str(tmp_path / "y"),
                "--verifier",
                "nli:foo",
                "--config",
                str(files / "config.json"),
                "--no-progress",
            ]
        )
        == 2
    )


def test_train_verifier_then_trace_with_it(files, tmp_path):
    # a 2-layer encoder built from a config keeps this fast; benchmarks train from the shipped MiniLM
    encoder = tiny_encoder(tmp_path / "encoder")
    vdir = tmp_path / "verifier"
    assert (
        main(
            [
                "trace",
                "train-verifier",
                "--corpus",
                str(files / "corpus.jsonl"),
                "--queries",
                str(files / "queries.jsonl"),
                "--out",
                str(vdir),
                "--epochs",
                "1",
                "--no-progress",
                "--base-model",
                encoder,
            ]
        )
        == 0
    )
    report = json.loads((vdir / "training_report.json").read_text())
    assert set(report["train_relations"]).isdisjoint(report["eval_relations"]) and report["eval_relations"]
    assert 0.0 <= report["eval"]["f1"] <= 1.0 and report["n_train_pairs"] > 0
    assert "not the paper's LLM" in report["trained_by"]
    # the held-out report carries the simple baselines on the same pairs, and the pre-screen gate is saved
    assert report["eval_baselines"]["always_yes"]["recall"] == 1.0
    assert report["eval_baselines"]["always_yes"]["n_pairs"] == report["eval"]["n_pairs"]
    assert 0.0 <= report["eval_baselines"]["bm25_threshold"]["f1"] <= 1.0
    saved = json.loads((vdir / "verifier_config.json").read_text())
    assert saved["threshold"] == report["threshold"] and 0.0 <= saved["min_overlap"] <= 1.0
    out = tmp_path / "traced"
    assert (
        main(
            [
                "trace",
                "run",
                "--corpus",
                str(files / "corpus.jsonl"),
                "--queries",
                str(files / "queries.jsonl"),
                "--out",
                str(out),
                "--verifier",
                f"cross-encoder:{vdir}",
                "--config",
                str(files / "config.json"),
                "--no-progress",
            ]
        )
        == 0
    )
    cand = pq.read_table(out / "candidates.parquet")
    traces = pq.read_table(out / "traces.parquet")
    assert cand.num_rows > 0 and traces.num_rows == sum(cand.column("verified").to_pylist())
    assert json.loads((out / "meta.json").read_text())["extra"]["verifier"]["trained_by"].startswith("hf_datavalue")
