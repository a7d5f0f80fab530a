"""Sampler overhead: examples/s of `hf_datavalue.interleave_datasets` vs `datasets.interleave_datasets`.

Same 7 domains of `../shared/data/multidomain_text`, same per-example probabilities, same number of examples;
map-style (build + iterate every row) and iterable (iterate the first N rows). Repetitions alternate between the
two samplers so that machine load hits both alike; the median is reported.

Usage:

```bash
PYTHONPATH=src python benchmarks/mixing/sampler_overhead.py --n 20000 --repeats 5 --out benchmarks/results/mixing
```
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DOMAINS, load_docs  # noqa: E402

from hf_datavalue.mixing import interleave_datasets  # noqa: E402

# fits n = 10,000 without running a domain dry (pubmed holds 1,000 documents, speeches 1,474)
PROBS = [0.21, 0.15, 0.15, 0.15, 0.10, 0.10, 0.14]


def run_map(lib: str, sources, n: int) -> float:
    import datasets

    t0 = time.perf_counter()
    if lib == "hf_datavalue":
        ds = interleave_datasets(
            dict(zip(DOMAINS, sources)), weights=dict(zip(DOMAINS, PROBS)), num_examples=n, seed=0
        )
    else:
        ds = datasets.interleave_datasets(sources, probabilities=PROBS, seed=0, stopping_strategy="first_exhausted")
        ds = ds.select(range(min(n, len(ds))))
    count = sum(1 for _ in ds)
    return count / (time.perf_counter() - t0)


def run_iterable(lib: str, sources, n: int) -> float:
    import datasets

    t0 = time.perf_counter()
    if lib == "hf_datavalue":
        ds = interleave_datasets(
            dict(zip(DOMAINS, sources)), weights=dict(zip(DOMAINS, PROBS)), num_examples=n, seed=0
        )
        count = sum(1 for _ in ds)
    else:
        ds = datasets.interleave_datasets(sources, probabilities=PROBS, seed=0, stopping_strategy="first_exhausted")
        count = sum(1 for _ in itertools.islice(ds, n))
    return count / (time.perf_counter() - t0)


def main() -> None:
    from datasets import Dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/results/mixing")
    args = ap.parse_args()
    docs = load_docs()
    maps = [Dataset.from_dict({"text": docs[d], "domain": [d] * len(docs[d])}) for d in DOMAINS]
    iters = [m.to_iterable_dataset(num_shards=4) for m in maps]
    rows = []
    for kind, fn, srcs in (
        ("map-style (build + iterate)", run_map, maps),
        ("iterable (iterate)", run_iterable, iters),
    ):
        speeds: dict[str, list[float]] = {"datasets": [], "hf_datavalue": []}
        for _ in range(args.repeats):
            for lib in ("datasets", "hf_datavalue"):
                speeds[lib].append(fn(lib, srcs, args.n))
        ref, ours = statistics.median(speeds["datasets"]), statistics.median(speeds["hf_datavalue"])
        rows.append(
            {"path": kind, "n": args.n, "datasets_ex_per_s": ref, "hf_datavalue_ex_per_s": ours, "ratio": ours / ref}
        )
        print(f"{kind:30s} datasets {ref:10.0f} ex/s   hf_datavalue {ours:10.0f} ex/s   ratio {ours / ref:.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sampler_overhead.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
