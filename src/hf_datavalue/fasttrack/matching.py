"""Fuzzy keyword matching of a query against cluster keywords (rapidfuzz).

Keywords are normalised (NFKC, lower case, punctuation to spaces). A (query keyword, cluster keyword) pair
matches when `rapidfuzz.fuzz.token_set_ratio` (0-100) reaches the threshold. A matched cluster keyword counts
with its inverse cluster frequency `icf(k) = log(1 + C / cf(k)) / log(1 + C)` (in (0, 1]; `cf(k)` = clusters
holding `k`), so a first name shared by hundreds of clusters weighs far less than a surname held by two
(`weighting="none"` counts every match as 1). A query keyword contributes the best value among the cluster's
keywords it matches, times its own weight (e.g. the subject counts twice the answer), and a cluster's score is
the sum over query keywords. Clusters with a positive score are ranked by score, then by centroid similarity
when given, then by id; at most `max_clusters` are kept, and with `sizes` / `max_rows` the ranked list stops
before the candidates would exceed `max_rows` rows (the best cluster is always kept). A threshold of 0 accepts
every pair, so every cluster matches.

The token-set ratio of two strings that share no token equals the plain ratio of their sorted, de-duplicated
token strings, so only vocabulary entries sharing a token with the query keyword (an inverted index) go through
the expensive scorer; the result is exactly the brute-force `token_set_ratio` over the whole vocabulary.

Usage:

```python
from hf_datavalue.fasttrack.matching import KeywordMatcher

matcher = KeywordMatcher([["Glasgow", "Scotland"], ["Milan", "Guido Crepax"]])
matcher.match(["Guido Crepax", "milan"], threshold=85, max_clusters=5)  # [(1, 2.0)]
```
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..core.errors import ConfigError, ShapeMismatchError

__all__ = ["KeywordMatcher", "cut_to_budget", "normalize_keyword"]

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
MIN_KEYWORD_CHARS = 2


def normalize_keyword(text: str) -> str:
    """NFKC, lower case, punctuation replaced by spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", str(text)).lower().replace("_", " ")
    return " ".join(_PUNCT.sub(" ", text).split())


def cut_to_budget(clusters: Sequence[int], sizes: np.ndarray, max_rows: int) -> list[int]:
    """The longest prefix of the ranked `clusters` whose rows fit in `max_rows` (the first cluster always stays)."""
    if not len(clusters):
        return []
    used = np.cumsum(sizes[np.asarray(clusters, dtype=np.int64)])
    return [int(c) for c in clusters[: max(1, int(np.searchsorted(used, max_rows, side="right")))]]


def _token_set_key(text: str) -> str:
    return " ".join(sorted(set(text.split())))


class KeywordMatcher:
    """Match query keywords against every cluster's keywords (deduplicated vocabulary, inverted token index).

    Args:
        cluster_keywords (`Sequence[Sequence[str]]`): keywords of cluster `i` at position `i`.
    """

    def __init__(self, cluster_keywords: Sequence[Sequence[str]]) -> None:
        vocab: dict[str, list[int]] = {}
        for cid, kws in enumerate(cluster_keywords):
            for kw in dict.fromkeys(normalize_keyword(k) for k in kws):
                if len(kw) >= MIN_KEYWORD_CHARS:
                    vocab.setdefault(kw, []).append(cid)
        self.n_clusters = len(cluster_keywords)
        self.words = list(vocab)
        counts = np.fromiter((len(v) for v in vocab.values()), dtype=np.int64, count=len(vocab))
        self._ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._owners = np.fromiter((c for v in vocab.values() for c in v), dtype=np.int64, count=int(counts.sum()))
        self.cluster_frequency = counts
        c = max(self.n_clusters, 1)
        self.icf = (np.log1p(c / np.maximum(counts, 1)) / np.log1p(c)).astype(np.float32)
        self._set_keys = [_token_set_key(w) for w in self.words]
        postings: dict[str, list[int]] = {}
        for wid, w in enumerate(self.words):
            for tok in set(w.split()):
                postings.setdefault(tok, []).append(wid)
        self._postings = {t: np.asarray(ids, dtype=np.int64) for t, ids in postings.items()}

    @staticmethod
    def normalize_queries(query_keywords: Sequence[str]) -> list[str]:
        """Normalised, de-duplicated query keywords long enough to match."""
        return [w for w in dict.fromkeys(normalize_keyword(k) for k in query_keywords) if len(w) >= MIN_KEYWORD_CHARS]

    def similarities(self, keyword: str, score_cutoff: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids whose `token_set_ratio` with the (normalised) `keyword` reaches `score_cutoff`, and scores.

        Exactly the brute-force scores: pairs sharing a token are scored by `token_set_ratio`, the others by the
        ratio of their sorted token sets (what `token_set_ratio` computes when the intersection is empty).
        """
        from rapidfuzz import fuzz, process

        if not self.words or not keyword:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        cutoff = score_cutoff or None
        sims = process.cdist(
            [_token_set_key(keyword)], self._set_keys, scorer=fuzz.ratio, dtype=np.float32, workers=1,
            score_cutoff=cutoff,
        )[0]  # fmt: skip
        parts = [self._postings[t] for t in set(keyword.split()) if t in self._postings]
        if parts:
            shared = np.unique(np.concatenate(parts))
            sims[shared] = process.cdist(
                [keyword], [self.words[i] for i in shared], scorer=fuzz.token_set_ratio, dtype=np.float32,
                workers=1, score_cutoff=cutoff,
            )[0]  # fmt: skip
        ids = np.flatnonzero(sims >= score_cutoff) if score_cutoff > 0 else np.arange(len(sims))
        return ids, sims[ids]

    def spread(self, word_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per cluster, the maximum value over the given vocabulary entries it holds -> `(C,)`."""
        out = np.zeros(self.n_clusters, dtype=np.float32)
        if not len(word_ids):
            return out
        starts, lens = self._ptr[word_ids], self._ptr[word_ids + 1] - self._ptr[word_ids]
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        idx = offsets + np.arange(int(lens.sum()))
        np.maximum.at(out, self._owners[idx], np.repeat(values.astype(np.float32), lens))
        return out

    def scores(self, query_keywords: Sequence[str], score_cutoff: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Per cluster: the best pair similarity (0-100) and, per query keyword, its best one -> `(C,)`, `(q, C)`.

        Pair scores below `score_cutoff` are reported as 0.
        """
        queries = self.normalize_queries(query_keywords)
        per_kw = np.zeros((len(queries), self.n_clusters), dtype=np.float32)
        for q, kw in enumerate(queries):
            ids, sims = self.similarities(kw, score_cutoff)
            per_kw[q] = self.spread(ids, sims)
        return (per_kw.max(0) if len(queries) else np.zeros(self.n_clusters, np.float32)), per_kw

    def keyword_values(
        self, query_keywords: Sequence[str], threshold: float, weighting: Literal["icf", "none"] = "icf"
    ) -> np.ndarray:
        """`(q, C)`: per query keyword (in the given order) and cluster, the best value of a matched cluster keyword.

        The value is the keyword's inverse cluster frequency (`weighting="icf"`) or 1 (`"none"`); 0 means no
        cluster keyword reaches `threshold`. Keywords too short to match (or duplicates) give a zero row.
        """
        if weighting not in ("icf", "none"):
            raise ConfigError(f"keyword weighting must be 'icf' or 'none', got {weighting!r}")
        out = np.zeros((len(query_keywords), self.n_clusters), dtype=np.float32)
        seen: set[str] = set()
        for q, raw in enumerate(query_keywords):
            kw = normalize_keyword(raw)
            if len(kw) < MIN_KEYWORD_CHARS or kw in seen:
                continue
            seen.add(kw)
            ids, _ = self.similarities(kw, float(threshold))
            out[q] = self.spread(ids, self.icf[ids] if weighting == "icf" else np.ones(len(ids), np.float32))
            if threshold <= 0:  # every pair is accepted, clusters without keywords included
                out[q] = np.maximum(out[q], np.float32(1e-6))
        return out

    @staticmethod
    def rank(
        values: np.ndarray,
        weights: Sequence[float] | None = None,
        max_clusters: int = 20,
        tie_break: np.ndarray | None = None,
        sizes: np.ndarray | None = None,
        max_rows: int | None = None,
    ) -> list[tuple[int, float]]:
        """Rank clusters from [`keyword_values`] rows: `[(cluster_id, score)]`, best first (see the module doc)."""
        if max_clusters <= 0 or values.shape[0] == 0:
            return []
        w = np.ones(values.shape[0], np.float32) if weights is None else np.asarray(weights, np.float32)
        if w.shape != (values.shape[0],):
            raise ShapeMismatchError(f"{values.shape[0]} query keywords but {w.shape[0]} weights")
        score = w @ values
        keep = np.flatnonzero(score > 0)
        if not len(keep):
            return []
        secondary = tie_break[keep] if tie_break is not None else np.zeros(len(keep))
        order = [int(c) for c in keep[np.lexsort((keep, -secondary, -score[keep]))][:max_clusters]]
        if sizes is not None and max_rows is not None:
            order = cut_to_budget(order, sizes, max_rows)
        return [(c, float(score[c])) for c in order]

    def match(
        self,
        query_keywords: Sequence[str],
        threshold: float = 85.0,
        max_clusters: int = 20,
        tie_break: np.ndarray | None = None,
        weights: Sequence[float] | None = None,
        weighting: Literal["icf", "none"] = "icf",
        sizes: np.ndarray | None = None,
        max_rows: int | None = None,
    ) -> list[tuple[int, float]]:
        """Clusters matching the query keywords, best first: `[(cluster_id, score)]`.

        Args:
            query_keywords (`Sequence[str]`): the query's keywords (subject, answer, statement keywords).
            threshold (`float`, *optional*, defaults to 85): minimum pair similarity in [0, 100].
            max_clusters (`int`, *optional*, defaults to 20): cap on returned clusters.
            tie_break (`np.ndarray`, *optional*): `(C,)` similarity that orders clusters with equal scores.
            weights (`Sequence[float]`, *optional*): one weight per query keyword (default 1 each).
            weighting (`str`, *optional*, defaults to `"icf"`): value of a matched cluster keyword: its inverse
                cluster frequency, or 1 (`"none"`).
            sizes (`np.ndarray`, *optional*): `(C,)` cluster sizes, needed with `max_rows`.
            max_rows (`int`, *optional*): stop before the retrieved clusters would hold more rows than this.
        """
        if max_rows is not None and sizes is None:
            raise ConfigError("max_rows needs the cluster sizes")
        values = self.keyword_values(query_keywords, threshold, weighting)
        return self.rank(values, weights, max_clusters, tie_break, sizes, max_rows)
