"""GOT-D at 100k pool x 5k target on CPU, 1 vs 2 processes: measured stages, composed end to end.

    PYTHONPATH=src HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale/gotd_100k.py \
        --n-pool 100000 --n-target 5000 --embed-slice 3000 --processes 1 2

Embedding 100k texts with MiniLM on these 2 cores takes about an hour per run (measured below), so one session cannot
run the 100k x 5k job end to end twice. The script therefore measures each stage where it can be measured and
composes the rest, and it checks the composition on a size where the whole job does run:

1. **Embedding throughput, end to end at a slice** (`--embed-slice` pool rows of the same 100k pool, `n-target / 10`
   targets): the real `hf-datavalue select` command, embedding included, with 1 and N processes
   (`gotd_processes.run`). Gives pool rows/s per configuration and the whole-job wall time at that size.
2. **Solve + scoring at full size**: the same command at 100k x 5k with the embeddings precomputed
   (`embedding_column`), 1 and N processes. The vectors are TF-IDF -> 384-d SVD, L2-normalised (MiniLM's width and
   norm) of the same real texts: the OT cost depends on their geometry only through the iteration count, which is
   recorded.
3. **Composed end to end at full size**: start-up + pool rows / measured rows per s + target rows / rows per s +
   measured solve and scoring. Step 1's measured wall time is compared with the same composition at the slice
   (`composition_error`), so the model is checked, not assumed.

Pool: 500-character chunks of every `multidomain_text` document, AG News test items and the AG News train rows the
target does not use, and SST-2 train sentences (>= 20 characters), shuffled with `random.Random(0)`. Target: AG News
train texts. Rows go to `benchmarks/results/scale/gotd_100k.jsonl` (one JSON object per measurement).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gotd_processes  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "scale"
CACHE = RESULTS / "cache"
OUT = RESULTS / "gotd_100k.jsonl"


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def pool_and_target(n_pool: int, n_target: int) -> tuple[list[str], list[str]]:
    """The 100k-row pool texts (see the module docstring) and the AG News target texts."""
    ag_train = [r["text"] for r in _read(DATA / "ag_news" / "train_subset.jsonl.gz")]
    target = ag_train[:n_target]
    pool: list[str] = []
    for path in sorted((DATA / "multidomain_text").glob("*.jsonl.gz")):
        for r in _read(path):
            text = r["text"]
            pool += [text[s : s + 500] for s in range(0, len(text), 500) if len(text[s : s + 500]) >= 100]
    pool += [r["text"] for r in _read(DATA / "ag_news" / "test.jsonl.gz")]
    pool += ag_train[n_target:]
    pool += [r["sentence"] for r in _read(DATA / "sst2" / "train.jsonl.gz") if len(r["sentence"]) >= 20]
    random.Random(0).shuffle(pool)
    if len(pool) < n_pool:
        raise SystemExit(f"only {len(pool)} pool texts available")
    return pool[:n_pool], target


def write_texts(path: Path, texts: list[str], with_row_idx: bool) -> Path:
    if not path.exists():
        lines = (json.dumps({"row_idx": i, "text": t} if with_row_idx else {"text": t}) for i, t in enumerate(texts))
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        tmp.replace(path)
    return path


def write_vectors(pool: list[str], target: list[str], dim: int) -> tuple[Path, Path, float]:
    """TF-IDF -> `dim`-d SVD, L2-normalised, for pool and target (fitted on both); parquet files in the cache."""
    pool_path, target_path = (
        CACHE / f"pool_{len(pool)}_svd{dim}.parquet",
        CACHE / f"target_{len(target)}_svd{dim}.parquet",
    )
    if pool_path.exists() and target_path.exists():
        return pool_path, target_path, float("nan")
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    t0 = time.perf_counter()
    tfidf = TfidfVectorizer(max_features=50_000, sublinear_tf=True).fit_transform(pool + target)
    vecs = TruncatedSVD(dim, random_state=0).fit_transform(tfidf).astype(np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    seconds = time.perf_counter() - t0
    for path, rows, offset in ((pool_path, len(pool), 0), (target_path, len(target), len(pool))):
        block = vecs[offset : offset + rows]
        emb = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), dim)
        columns = {"row_idx": pa.array(np.arange(rows)), "embedding": emb} if path is pool_path else {"embedding": emb}
        pq.write_table(pa.table(columns), path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
    return pool_path, target_path, seconds


def run_precomputed(n_proc: int, pool: Path, target: Path, k: int, shard_size: int) -> dict:
    """`hf-datavalue select` on precomputed embeddings (solve + scoring only), 1 or N processes."""
    config = {"embedding_column": "embedding", "shard_size": shard_size}
    work, measured = gotd_processes.run_select(n_proc, pool, target, k, config, "gotd-100k")
    meta = json.loads((work / "out" / "meta.json").read_text())
    per_rank = meta["extra"]["timings_per_rank"]
    selected = sorted(pq.read_table(work / "out" / "selected.parquet")["row_idx"].to_pylist())
    return {
        "measurement": "solve_and_score_precomputed",
        "processes": n_proc,
        "n_pool": meta["n_rows"],
        "n_target": meta["validation"]["n_rows"],
        "k": k,
        "shard_size": shard_size,
        "wall_s": measured["wall_s"],
        "cpu_s": measured["cpu_s"],
        "read_embed_s_per_rank": [round(t["embed"], 1) for t in per_rank],
        "solve_s": round(max(t["solve"] for t in per_rank), 1),
        "score_s_per_rank": [round(t["score"], 2) for t in per_rank],
        "ot_n_iter": meta["extra"]["solve"]["n_iter"],
        "ot_converged": meta["extra"]["solve"].get("converged"),
        "peak_rss_children_gb": measured["peak_rss_children_gb"],
        "selected": selected,
        "load_avg_1m_before": measured["load_avg_1m_before"],
        "load_avg_1m_after": measured["load_avg_1m_after"],
    }


def _emit(row: dict) -> dict:
    row = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **row, "cores": os.cpu_count()}
    out = {k: v for k, v in row.items() if k != "selected"}
    print(json.dumps(out), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(out) + "\n")
    return row


def _parts(row: dict) -> tuple[float, float, float]:
    """(fixed start-up seconds, pool rows/s of all ranks, target rows/s) of one measured end-to-end run."""
    rate = row["embed_rows_per_s"]  # pool rows / seconds of the slowest rank's pool embedding
    target_rate = rate / row["processes"]  # GOT-D embeds the target on rank 0 alone
    stages = max(row["embed_s_per_rank"]) + row["solve_s"] + max(row["score_s_per_rank"])
    # start-up, model load and reading files: what is left once the stages and the target embedding are taken out
    fixed = row["wall_s"] - stages - row["n_target"] / target_rate
    return fixed, rate, target_rate


def compose(parts_from: dict, n_pool: int, n_target: int, solve_and_score_s: float) -> dict:
    """Whole-job seconds at (n_pool, n_target) from one run's start-up and embedding rate plus measured solve/score."""
    fixed, rate, target_rate = _parts(parts_from)
    pool_embed, target_embed = n_pool / rate, n_target / target_rate
    total = fixed + target_embed + pool_embed + solve_and_score_s
    return {
        "pool_embed_s": round(pool_embed, 1),
        "target_embed_s": round(target_embed, 1),
        "startup_s": round(fixed, 1),
        "solve_and_score_s": round(solve_and_score_s, 1),
        "total_s": round(total, 1),
        "embed_share": round((pool_embed + target_embed) / total, 3),
        "from_rows_per_s": rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=100_000)
    parser.add_argument("--n-target", type=int, default=5_000)
    parser.add_argument("--k", type=int, default=10_000)
    parser.add_argument("--slices", type=int, nargs=2, default=[1_500, 3_000], help="calibration and check sizes")
    parser.add_argument("--shard-size", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reuse-slices", action="store_true", help="reuse stored slice rows instead of rerunning")
    parser.add_argument(
        "--compose-only", action="store_true", help="only recompute the composed rows from stored rows"
    )
    parser.add_argument(
        "--slices-only", metavar="NOTE", help="only rerun the slices; rows carry NOTE and stay out of the composition"
    )
    args = parser.parse_args()
    if args.compose_only:
        stored = [json.loads(line) for line in OUT.read_text().splitlines()]
        slices = {
            (r["n_pool"], r["processes"]): r
            for r in stored
            if r["measurement"] == "end_to_end_slice" and "note" not in r
        }
        fulls = {r["processes"]: r for r in stored if r["measurement"] == "solve_and_score_precomputed"}
        emit_compositions(slices, fulls, args)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    pool, target = pool_and_target(args.n_pool, args.n_target)

    slice_rows: dict[tuple[int, int], dict] = {}
    if args.reuse_slices:
        for line in OUT.read_text().splitlines():
            row = json.loads(line)
            if row.get("measurement") == "end_to_end_slice" and "note" not in row:
                slice_rows[(row["n_pool"], row["processes"])] = row
    for n_slice in args.slices:
        n_slice_target = max(n_slice // 10, 1)
        pool_file = write_texts(CACHE / f"pool100k_slice_{n_slice}.jsonl", pool[:n_slice], True)
        target_file = write_texts(CACHE / f"target_slice_{n_slice_target}.jsonl", target[:n_slice_target], False)
        for n_proc in args.processes:
            if (n_slice, n_proc) in slice_rows:
                continue
            row = gotd_processes.run(n_proc, pool_file, target_file, n_slice // 10, 500)
            row["measurement"] = "end_to_end_slice"
            if args.slices_only:
                row["note"] = args.slices_only
            one = slice_rows.get((n_slice, 1))
            if one is not None:
                row["same_selection_as_1"] = row["selected"] == one["selected"]
                row["wall_ratio_vs_1"] = round(one["wall_s"] / row["wall_s"], 2)
            slice_rows[(n_slice, n_proc)] = _emit(row)

    if args.slices_only:
        return
    pool_vec, target_vec, svd_s = write_vectors(pool, target, args.dim)
    full_rows: dict[int, dict] = {}
    for n_proc in args.processes:
        row = run_precomputed(n_proc, pool_vec, target_vec, args.k, args.shard_size)
        row["svd_features_s"] = round(svd_s, 1)
        if 1 in full_rows:
            row["same_selection_as_1"] = row["selected"] == full_rows[1]["selected"]
            row["wall_ratio_vs_1"] = round(full_rows[1]["wall_s"] / row["wall_s"], 2)
        full_rows[n_proc] = _emit(row)
    emit_compositions(slice_rows, full_rows, args)


def emit_compositions(slice_rows: dict, full_rows: dict, args: argparse.Namespace) -> None:
    small, large = args.slices
    for n_proc in args.processes:  # the composition, calibrated on the small slice, predicts the large one
        big = slice_rows[(large, n_proc)]
        pred = compose(slice_rows[(small, n_proc)], big["n_pool"], big["n_target"],
                       big["solve_s"] + max(big["score_s_per_rank"]))  # fmt: skip
        _emit({"measurement": "composition_check", "processes": n_proc, "calibrated_on": small, "n_pool": large,
               "predicted_wall_s": pred["total_s"], "measured_wall_s": big["wall_s"],
               "relative_error": round(pred["total_s"] / big["wall_s"] - 1, 3)})  # fmt: skip
    for n_proc in args.processes:
        full = full_rows[n_proc]
        solve_score = full["solve_s"] + max(full["score_s_per_rank"])
        row = compose(slice_rows[(large, n_proc)], args.n_pool, args.n_target, solve_score)
        _emit({"measurement": "composed_end_to_end", "processes": n_proc, "n_pool": args.n_pool,
               "n_target": args.n_target, **row})  # fmt: skip


if __name__ == "__main__":
    main()
