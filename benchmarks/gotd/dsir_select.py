"""DSIR baseline (hashed n-gram importance resampling, `data-selection` on PyPI), run in its own venv.

    .bench-venvs/dsir/bin/python benchmarks/gotd/dsir_select.py --pool pool_speed.jsonl --k 10000

Prints one JSON line: wall time, peak memory (this process and its workers) and the selected `row_idx`/`tag`
counts. Defaults of the package except `min_example_length=0` (AG News items are shorter than 100 words).
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

RES = Path(__file__).resolve().parents[1] / "results" / "gotd_emb"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", default="pool_speed.jsonl")
    parser.add_argument("--target", default="target.jsonl")
    parser.add_argument("--n-target", type=int, default=5000)
    parser.add_argument("--k", type=int, default=10_000)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()
    from data_selection import HashedNgramDSIR

    np.random.seed(0)  # DSIR's Gumbel top-k uses the global numpy generator
    work = Path(tempfile.mkdtemp(prefix="dsir-"))
    target = work / "target.jsonl"
    with (RES / args.target).open() as src, target.open("w") as dst:
        for _, line in zip(range(args.n_target), src):
            dst.write(line)
    t0 = time.perf_counter()
    dsir = HashedNgramDSIR([str(RES / args.pool)], [str(target)], cache_dir=str(work / "cache"),
                           num_proc=args.num_proc, min_example_length=0)  # fmt: skip
    dsir.fit_importance_estimator(num_tokens_to_fit="auto")
    dsir.compute_importance_weights()
    dsir.resample(out_dir=str(work / "out"), num_to_sample=args.k, cache_dir=str(work / "resample"))
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for f in sorted((work / "out").glob("*.jsonl")) for line in f.open()]
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    result = {"method": "dsir", "pool": args.pool, "n_target": args.n_target, "k": args.k, "wall_s": round(wall, 1),
              "peak_rss_mb": round(peak / 1024), "selected": len({r["row_idx"] for r in rows}),
              "tags": dict(collections.Counter(r["tag"] for r in rows))}  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps({"row_idx": [r["row_idx"] for r in rows]}))
    print(json.dumps(result), flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
