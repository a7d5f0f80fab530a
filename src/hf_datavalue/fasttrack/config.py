"""[`FastTrackConfig`]: every knob of the FastTrack index and tracer, with the library's (unverified) defaults.

No public FastTrack code exists; each default below is our choice and is recorded in the traces' provenance
(`specs/fasttrack.md` §3).

Usage:

```python
from hf_datavalue.fasttrack import FastTrackConfig

config = FastTrackConfig(tau=100, fuzzy_threshold=85, max_clusters=20, batch_size=10)
FastTrackConfig.from_json(config.to_json()) == config  # True
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..core.config import EmbedderArguments, JsonConfig
from ..core.errors import ConfigError

__all__ = ["FastTrackConfig"]


@dataclass
class FastTrackConfig(EmbedderArguments, JsonConfig):
    """Configuration of [`FastTrackIndex`] (offline) and [`FastTrackTracer`] (online).

    Args:
        text_column (`str`, *optional*, defaults to `"text"`): corpus text column.
        embedding_column (`str`, *optional*): use this precomputed corpus embedding column instead of embedding.
        query_column (`str`, *optional*, defaults to `"statement"`): the query fact to trace.
        query_id_column (`str`, *optional*, defaults to `"query_id"`): query key (row position when absent).
        subject_column (`str`, *optional*, defaults to `"sub_label"`): subject string added to the query keywords.
        answer_column (`str`, *optional*, defaults to `"obj_label"`): answer string added to the query keywords.
        tau (`int`, *optional*, defaults to 100): maximum leaf size of the recursive k-means.
        branching (`int`, *optional*, defaults to 10): clusters per re-split of an oversized cluster.
        max_top_clusters (`int`, *optional*, defaults to 1000): cap of the top-level k = ceil(N / tau).
        n_init (`int`, *optional*, defaults to 3): k-means++ restarts.
        kmeans_backend (`str`, *optional*, defaults to `"auto"`): `"faiss"`, `"sklearn"`, or `"auto"` = faiss when
            installed, else scikit-learn (faiss was ~5x faster at equal quality in benchmarks/fasttrack/stage1.py).
        keyworder (`str`, *optional*, defaults to `"tfidf"`): offline keyworder (`"tfidf"`: class-based TF-IDF
            terms plus named-entity-like strings); an LLM keyworder is passed as an object.
        max_keywords (`int`, *optional*): keywords kept per cluster by the offline keyworder; `None` (default)
            keeps every entity string and content word of the cluster.
        keyword_sample (`int`, *optional*, defaults to 20): member texts shown to an LLM keyworder (seeded).
        retrieval (`str`, *optional*, defaults to `"keywords"`): `"keywords"` (fuzzy keyword match, the paper),
            `"embedding"` (nearest centroids, library extension) or `"both"` (union).
        fuzzy_threshold (`float`, *optional*, defaults to 90): a (query keyword, cluster keyword) pair matches
            when its token-set similarity (0-100) reaches it.
        keyword_weighting (`str`, *optional*, defaults to `"icf"`): value of a matched cluster keyword: its inverse
            cluster frequency (`"icf"`: common words weigh little) or 1 (`"none"`).
        subject_weight (`float`, *optional*, defaults to 2.0): weight of the subject string in a cluster's score.
        answer_weight (`float`, *optional*, defaults to 1.0): weight of the answer string.
        statement_weight (`float`, *optional*, defaults to 0.0): weight of the keyworder's statement keywords;
            they weigh 1 when a query has neither a subject nor an answer string.
        max_clusters (`int`, *optional*, defaults to 1000): at most this many keyword-matched clusters per query.
        max_corpus_fraction (`float`, *optional*, defaults to 0.05): retrieval stops before the candidates would
            exceed this share of the corpus (1 = no limit); the best cluster is always kept.
        embedding_clusters (`int`, *optional*, defaults to 5): clusters retrieved by centroid similarity.
        batch_size (`int`, *optional*, defaults to 10): passages per verification call (B).
        max_passage_chars (`int`, *optional*, defaults to 1000): passages longer than this are truncated (counted).
        seed (`int`, *optional*, defaults to 0): seeds k-means and keyword sampling.
    """

    method = "fasttrack"

    text_column: str = field(default="text", metadata={"help": "Corpus text column."})
    embedding_column: str | None = field(
        default=None, metadata={"help": "Precomputed corpus embedding column (skips embedding)."}
    )
    query_column: str = field(default="statement", metadata={"help": "Query fact (statement) column."})
    query_id_column: str = field(default="query_id", metadata={"help": "Query key column (row position if absent)."})
    subject_column: str | None = field(default="sub_label", metadata={"help": "Subject string column (optional)."})
    answer_column: str | None = field(default="obj_label", metadata={"help": "Answer string column (optional)."})
    tau: int = field(default=100, metadata={"help": "Maximum leaf size of the recursive k-means."})
    branching: int = field(default=10, metadata={"help": "Clusters per re-split of an oversized cluster."})
    max_top_clusters: int = field(default=1000, metadata={"help": "Cap of the top-level k = ceil(N / tau)."})
    n_init: int = field(default=3, metadata={"help": "k-means++ restarts."})
    kmeans_backend: Literal["auto", "sklearn", "faiss"] = field(
        default="auto", metadata={"help": "k-means library; 'auto' = faiss when installed (faster), else sklearn."}
    )
    keyworder: Literal["tfidf"] = field(default="tfidf", metadata={"help": "Offline keyworder."})
    max_keywords: int | None = field(
        default=None, metadata={"help": "Keywords per cluster (offline keyworder); None = every entity and word."}
    )
    keyword_sample: int = field(default=20, metadata={"help": "Member texts shown to an LLM keyworder."})
    retrieval: Literal["keywords", "embedding", "both"] = field(
        default="keywords", metadata={"help": "Cluster retrieval: fuzzy keywords, centroid similarity, or both."}
    )
    fuzzy_threshold: float = field(default=90.0, metadata={"help": "Minimum keyword-pair similarity (0-100)."})
    keyword_weighting: Literal["icf", "none"] = field(
        default="icf", metadata={"help": "Matched cluster keyword value: inverse cluster frequency or 1."}
    )
    subject_weight: float = field(default=2.0, metadata={"help": "Weight of the subject string."})
    answer_weight: float = field(default=1.0, metadata={"help": "Weight of the answer string."})
    statement_weight: float = field(
        default=0.0, metadata={"help": "Weight of the statement keywords (1 when no subject/answer is given)."}
    )
    max_clusters: int = field(default=1000, metadata={"help": "Keyword-matched clusters kept per query."})
    max_corpus_fraction: float = field(
        default=0.05, metadata={"help": "Stop retrieving before the candidates exceed this share of the corpus."}
    )
    embedding_clusters: int = field(default=5, metadata={"help": "Clusters retrieved by centroid similarity."})
    batch_size: int = field(default=10, metadata={"help": "Passages per verification call (B)."})
    max_passage_chars: int = field(default=1000, metadata={"help": "Passages are truncated to this many characters."})
    seed: int = field(default=0, metadata={"help": "Seed of k-means and keyword sampling."})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("tau", "max_top_clusters", "n_init", "keyword_sample", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.branching < 2:
            raise ConfigError(f"branching must be >= 2 (a split needs two children), got {self.branching}")
        if self.max_keywords is not None and self.max_keywords < 1:
            raise ConfigError(f"max_keywords must be >= 1 or None (every keyword), got {self.max_keywords}")
        if self.keyword_weighting not in ("icf", "none"):
            raise ConfigError(f"keyword_weighting must be 'icf' or 'none', got {self.keyword_weighting!r}")
        if min(self.subject_weight, self.answer_weight, self.statement_weight) < 0:
            raise ConfigError("subject_weight, answer_weight and statement_weight must be >= 0")
        if not 0.0 < self.max_corpus_fraction <= 1.0:
            raise ConfigError(
                f"max_corpus_fraction is a share of the corpus in (0, 1], got {self.max_corpus_fraction}"
            )
        if self.max_clusters < 0 or self.embedding_clusters < 0:
            raise ConfigError("max_clusters and embedding_clusters must be >= 0")
        if not 0.0 <= self.fuzzy_threshold <= 100.0:
            raise ConfigError(f"fuzzy_threshold is a similarity in [0, 100], got {self.fuzzy_threshold}")
        if self.max_passage_chars < 16:
            raise ConfigError(f"max_passage_chars must be >= 16, got {self.max_passage_chars}")
        if self.kmeans_backend not in ("auto", "sklearn", "faiss"):
            raise ConfigError(f"kmeans_backend must be 'auto', 'sklearn' or 'faiss', got {self.kmeans_backend!r}")
        if self.keyworder != "tfidf":
            raise ConfigError(
                f"keyworder must be 'tfidf' (pass an LLM keyworder object instead), got {self.keyworder!r}"
            )
        if self.retrieval not in ("keywords", "embedding", "both"):
            raise ConfigError(f"retrieval must be 'keywords', 'embedding' or 'both', got {self.retrieval!r}")
        if self.retrieval != "keywords" and self.embedding_clusters == 0:
            raise ConfigError(f"retrieval={self.retrieval!r} needs embedding_clusters >= 1")
