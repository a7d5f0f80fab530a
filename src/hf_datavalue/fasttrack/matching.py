"""Fuzzy keyword matching of a query against cluster keywords (rapidfuzz).

Keywords are normalised (NFKC, lower case, punctuation to spaces); a cluster's score is the maximum over
(query keyword, cluster keyword) pairs of `rapidfuzz.fuzz.token_set_ratio` (0-100). Clusters at or above the
threshold are ranked by score, then by how many query keywords they match, then by centroid similarity when
given, then by id, and the first `max_clusters` are kept.

Usage:

```python
from hf_datavalue.fasttrack.matching import KeywordMatcher

matcher = KeywordMatcher([["Glasgow", "Scotland"], ["Milan", "Guido Crepax"]])
matcher.match(["Guido Crepax", "milan"], threshold=85, max_clusters=5)  # [(1, 100.0)]
```
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

__all__ = ["KeywordMatcher", "normalize_keyword"]

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
MIN_KEYWORD_CHARS = 2


def normalize_keyword(text: str) -> str:
    """NFKC, lower case, punctuation replaced by spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", str(text)).lower().replace("_", " ")
    return " ".join(_PUNCT.sub(" ", text).split())


class KeywordMatcher:
    """Match query keywords against every cluster's keywords in one vectorised rapidfuzz call.

    Args:
        cluster_keywords (`Sequence[Sequence[str]]`): keywords of cluster `i` at position `i`.
    """

    def __init__(self, cluster_keywords: Sequence[Sequence[str]]) -> None:
        words: list[str] = []
        owners: list[int] = []
        for cid, kws in enumerate(cluster_keywords):
            for kw in dict.fromkeys(normalize_keyword(k) for k in kws):
                if len(kw) >= MIN_KEYWORD_CHARS:
                    words.append(kw)
                    owners.append(cid)
        self.n_clusters = len(cluster_keywords)
        self.words = words
        self.owners = np.asarray(owners, dtype=np.int64)

    def scores(self, query_keywords: Sequence[str], score_cutoff: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Per cluster: the best pair score (0-100) and, per query keyword, its best score -> `(C,)`, `(q, C)`.

        Pair scores below `score_cutoff` are reported as 0 (rapidfuzz skips them early: faster).
        """
        from rapidfuzz import fuzz, process

        queries = [
            w for w in dict.fromkeys(normalize_keyword(k) for k in query_keywords) if len(w) >= MIN_KEYWORD_CHARS
        ]
        per_kw = np.zeros((len(queries), self.n_clusters), dtype=np.float32)
        if not queries or not self.words:
            return per_kw.max(0) if len(queries) else np.zeros(self.n_clusters, np.float32), per_kw
        sim = process.cdist(
            queries,
            self.words,
            scorer=fuzz.token_set_ratio,
            dtype=np.float32,
            workers=1,
            score_cutoff=score_cutoff or None,
        )
        for q in range(len(queries)):
            np.maximum.at(per_kw[q], self.owners, sim[q])
        return per_kw.max(0), per_kw

    def match(
        self,
        query_keywords: Sequence[str],
        threshold: float = 85.0,
        max_clusters: int = 20,
        tie_break: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Clusters whose score reaches `threshold`, best first, at most `max_clusters`: `[(cluster_id, score)]`.

        Args:
            query_keywords (`Sequence[str]`): the query's keywords (plus subject and answer strings).
            threshold (`float`, *optional*, defaults to 85): minimum score in [0, 100].
            max_clusters (`int`, *optional*, defaults to 20): cap on returned clusters.
            tie_break (`np.ndarray`, *optional*): `(C,)` similarity used to order clusters with equal scores.
        """
        if max_clusters <= 0:
            return []
        best, per_kw = self.scores(query_keywords, score_cutoff=threshold)
        keep = np.flatnonzero(best >= threshold)
        if not len(keep):
            return []
        n_matched = (per_kw[:, keep] >= threshold).sum(0)
        secondary = tie_break[keep] if tie_break is not None else np.zeros(len(keep))
        order = np.lexsort((keep, -secondary, -n_matched, -best[keep]))
        return [(int(keep[i]), float(best[keep[i]])) for i in order[:max_clusters]]
