"""Speed of GOT-D scoring: 100,000 candidates against 5,000 targets (384-d all-MiniLM-L6-v2).

One method per process so that peak memory is per method:

    PYTHONPATH=src python benchmarks/gotd/speed.py --method gotd --n-pool 100000
    PYTHONPATH=src python benchmarks/gotd/speed.py --method random --n-pool 100000

Targets: 5,000 real AG News train texts. Pool: 100,000 distinct real texts from `../shared/data/`, each
embedded with all-MiniLM-L6-v2 by `embed_corpus.py`: the skewed AG News test items, 10,000 500-character and
23,496 200-character multidomain chunks, and the 60,614 SST-2 train sentences (the rows of
`pool_speed.jsonl`, which DSIR reads). The GOT-D run goes through the library path (`GotdSelector` on an
embedding column: shards, solve, per-shard scoring) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_part  # noqa: E402


def pool_and_target(n_pool: int) -> tuple[np.ndarray, np.ndarray, int]:
    target = load_part("target")["x"]
    parts = [load_part(name) for name in ("news", "chunk500", "sst2", "chunk200")]
    x = np.concatenate([p["x"] for p in parts])[:n_pool].astype(np.float32)
    if len(x) < n_pool:
        raise SystemExit(f"only {len(x)} embedded pool rows: finish benchmarks/gotd/embed_corpus.py first")
    distinct = len(np.unique(np.concatenate([p["sha"] for p in parts])[:n_pool]))
    return x, target.astype(np.float32), distinct


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", choices=["gotd", "random"], required=True)
    parser.add_argument("--n-pool", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10_000)
    parser.add_argument("--eps", type=float, default=0.02)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--momentum", type=float, default=1.0)
    parser.add_argument(
        "--iteration", choices=["auto", "log", "kernel"], default="auto", help="solver A/B: time the solve alone"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ot-mode", choices=["auto", "dense", "online"], default="auto")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    pool_x, target_x, n_real = pool_and_target(args.n_pool)
    row: dict = {"method": args.method, "mode": args.ot_mode, "momentum": args.momentum, "tol": args.tol, "n_pool": len(pool_x), "n_target": len(target_x), "dim": pool_x.shape[1],
                 "distinct_texts": n_real, "k": args.k}  # fmt: skip
    t0 = time.perf_counter()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage0.ru_utime + usage0.ru_stime
    if args.method == "random":
        chosen = np.random.default_rng(0).choice(len(pool_x), args.k, replace=False)
    elif args.iteration != "auto":
        # Solver A/B on the same problem: the OT solve alone, log-domain vs stabilised-kernel iterations.
        from hf_datavalue.gotd.scoring import solve_gotd, top_k

        solve, result = solve_gotd(pool_x, target_x, eps=args.eps, eps_mode="relative", tol=args.tol,
                                   max_iter=args.max_iter, momentum=args.momentum, mode=args.ot_mode,
                                   iteration=args.iteration, dtype="float32", progress=True)  # fmt: skip
        chosen = top_k(result.g.double().numpy(), args.k)
        row.update({k: solve.info[k] for k in ("eps", "n_iter", "converged", "target_marginal_error")})
        row["iteration"] = args.iteration
        row["solve_s"] = round(solve.info["timings"]["solve"] + solve.info["timings"].get("cost", 0.0), 1)
        np.save(Path(tempfile.gettempdir()) / f"gotd_speed_top{args.k}_{args.iteration}.npy", np.sort(chosen))
    else:
        from datasets import Dataset

        from hf_datavalue.gotd import GotdConfig, GotdSelector

        pool = Dataset.from_dict({"row_idx": np.arange(len(pool_x)), "emb": pool_x})
        target = Dataset.from_dict({"emb": target_x})
        cfg = GotdConfig(embedding_column="emb", eps=args.eps, eps_mode="relative", tol=args.tol,
                         max_iter=args.max_iter, momentum=args.momentum, dtype="float32", mode=args.ot_mode, progress=True)  # fmt: skip
        t0 = time.perf_counter()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage0.ru_utime + usage0.ru_stime
        with tempfile.TemporaryDirectory() as tmp:
            selector = GotdSelector(cfg).fit(pool, target, k=args.k, output_dir=tmp)
        chosen = selector.selected_ids()
        info = selector.solve_info
        row.update({k: info[k] for k in ("eps", "n_iter", "converged", "target_marginal_error")})
        row["solve_s"] = round(info["timings"]["solve"] + info["timings"].get("cost", 0.0), 1)
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    row["selected"] = int(len(np.unique(chosen)))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    row["cpu_s"] = round(usage.ru_utime + usage.ru_stime - cpu0, 1)
    row["load_avg_1m"] = round(os.getloadavg()[0], 1)
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
