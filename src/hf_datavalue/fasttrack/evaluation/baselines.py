"""Ranking baselines for fact tracing and the dev-tuned cut-offs that turn rankings into sets.

* [`BM25Ranker`]: BM25 (`bm25s`, Lucene variant) over the corpus text.
* [`EmbeddingRanker`]: cosine similarity of unit-norm embeddings.
* [`tune_cutoff`]: one global top-k or score threshold chosen on dev queries to maximise mean set F1;
  [`apply_cutoff`] applies it to other queries; [`oracle_best_k`] is the per-query best-k upper bound.

Usage:

```python
from hf_datavalue.fasttrack.evaluation.baselines import BM25Ranker, apply_cutoff, tune_cutoff

bm25 = BM25Ranker(corpus["text"])
ids, scores = bm25.retrieve(queries["statement"], k=50)
cut = tune_cutoff(ids[dev], scores[dev], [props[i] for i in dev])
returned = apply_cutoff(ids[test], scores[test], cut)
```
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from ...core.errors import EmptyDatasetError
from .metrics import set_prf

__all__ = ["BM25Ranker", "EmbeddingRanker", "apply_cutoff", "oracle_best_k", "tune_cutoff"]


class BM25Ranker:
    """BM25 over a list of texts (English stop words removed, `bm25s` tokeniser).

    Args:
        texts (`Sequence[str]`): the corpus.
        k1 (`float`, *optional*, defaults to 1.5), b (`float`, *optional*, defaults to 0.75): BM25 parameters.
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        import bm25s

        if len(texts) == 0:
            raise EmptyDatasetError("BM25 needs a non-empty corpus")
        self.n = len(texts)
        self.retriever = bm25s.BM25(k1=k1, b=b)
        self.retriever.index(
            bm25s.tokenize([str(t) for t in texts], stopwords="en", show_progress=False), show_progress=False
        )

    def retrieve(self, queries: Sequence[str], k: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` row positions and scores per query, best first: `(n_queries, k)` arrays."""
        import bm25s

        tokens = bm25s.tokenize([str(q) for q in queries], stopwords="en", show_progress=False)
        ids, scores = self.retriever.retrieve(tokens, k=min(k, self.n), show_progress=False, n_threads=1)
        return np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every corpus row for one query, `(n,)`."""
        import bm25s

        tokens = bm25s.tokenize([str(query)], stopwords="en", show_progress=False, return_ids=False)[0]
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float64)


class EmbeddingRanker:
    """Cosine similarity between unit-norm query and corpus embeddings.

    Args:
        corpus_embeddings (`np.ndarray`): `(n, d)` embeddings (normalised here).
    """

    def __init__(self, corpus_embeddings: np.ndarray) -> None:
        x = np.asarray(corpus_embeddings, dtype=np.float32)
        if len(x) == 0:
            raise EmptyDatasetError("embedding similarity needs a non-empty corpus")
        self.x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def retrieve(self, query_embeddings: np.ndarray, k: int = 100) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(query_embeddings, dtype=np.float32)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        k = min(k, len(self.x))
        ids = np.empty((len(q), k), dtype=np.int64)
        sc = np.empty((len(q), k), dtype=np.float64)
        for lo in range(0, len(q), 256):
            s = q[lo : lo + 256] @ self.x.T
            top = np.argpartition(-s, k - 1, axis=1)[:, :k]
            part = np.take_along_axis(s, top, 1)
            order = np.argsort(-part, axis=1, kind="stable")
            ids[lo : lo + 256] = np.take_along_axis(top, order, 1)
            sc[lo : lo + 256] = np.take_along_axis(part, order, 1)
        return ids, sc

    def scores(self, query_embedding: np.ndarray) -> np.ndarray:
        q = np.asarray(query_embedding, dtype=np.float32)
        return (self.x @ (q / max(float(np.linalg.norm(q)), 1e-12))).astype(np.float64)


def _sets_topk(ids: np.ndarray, k: int) -> list[set[int]]:
    return [set(row[:k].tolist()) for row in ids]


def _sets_threshold(ids: np.ndarray, scores: np.ndarray, t: float) -> list[set[int]]:
    return [set(row[s >= t].tolist()) for row, s in zip(ids, scores)]


def _mean_f1(sets: list[set[int]], props: Sequence[Collection[int]]) -> float:
    return float(np.mean([set_prf(s, p)[2] for s, p in zip(sets, props)]))


def tune_cutoff(
    ids: np.ndarray, scores: np.ndarray, proponents: Sequence[Collection[int]], max_k: int | None = None
) -> dict[str, Any]:
    """The global top-k or score threshold with the best mean set F1 on these (dev) queries."""
    max_k = min(max_k or ids.shape[1], ids.shape[1])
    best: dict[str, Any] = {"kind": "top_k", "value": 1, "dev_f1": -1.0}
    for k in range(1, max_k + 1):
        f1 = _mean_f1(_sets_topk(ids, k), proponents)
        if f1 > best["dev_f1"]:
            best = {"kind": "top_k", "value": k, "dev_f1": f1}
    for t in np.unique(np.quantile(scores[:, :max_k], np.linspace(0.0, 1.0, 101))):
        f1 = _mean_f1(_sets_threshold(ids[:, :max_k], scores[:, :max_k], float(t)), proponents)
        if f1 > best["dev_f1"]:
            best = {"kind": "threshold", "value": float(t), "dev_f1": f1}
    return best


def apply_cutoff(ids: np.ndarray, scores: np.ndarray, cutoff: dict[str, Any]) -> list[set[int]]:
    """Returned sets under a cut-off from [`tune_cutoff`]."""
    if cutoff["kind"] == "top_k":
        return _sets_topk(ids, int(cutoff["value"]))
    return _sets_threshold(ids, scores, float(cutoff["value"]))


def oracle_best_k(ids: np.ndarray, proponents: Sequence[Collection[int]]) -> list[set[int]]:
    """Upper bound: per query, the top-k with the best F1 (k chosen with the answers; never a real method)."""
    out = []
    for row, p in zip(ids, proponents):
        f1s = [set_prf(set(row[:k].tolist()), p)[2] for k in range(1, len(row) + 1)]
        out.append(set(row[: int(np.argmax(f1s)) + 1].tolist()))
    return out
