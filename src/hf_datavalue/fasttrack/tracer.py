"""[`FastTrackTracer`]: the online stage. Keywords -> fuzzy cluster retrieval -> batched verification.

Per query: the subject and answer strings (weights `subject_weight`, `answer_weight`) and the keyworder's
keywords of the statement (`statement_weight`; weight 1 when the query has neither a subject nor an answer) are
fuzzy-matched against the cluster keywords ([`KeywordMatcher`], inverse-cluster-frequency weighted); with
`retrieval="embedding"` (library extension) or `"both"` the clusters with the nearest centroids are used or added.
The ranked clusters are kept until the candidates would exceed `max_corpus_fraction` of the corpus (the best
cluster is always kept). Every retrieved cluster's members are verified in
batches of `batch_size` passages, so a query costs sum over clusters of ceil(|cluster| / B) verifier calls
(fewer with cache hits). Answers are cached by prompt hash; with `output_dir`, finished queries are checkpointed
under `output_dir/partial/` so an interrupted run resumes, and the final files appear only when all queries
are done.

Usage:

```python
from hf_datavalue.fasttrack import FastTrackIndex, FastTrackTracer, build_verifier

index = FastTrackIndex.build(corpus, config, embedder=minilm_path)
verifier = build_verifier("cross-encoder:verifier_dir")
result = FastTrackTracer(index, corpus, verifier, embedder=minilm_path).trace(queries, output_dir="out")
result.returned_sets()
```
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.embeddings import Embedder
from ..core.errors import ConfigError, DataValueError, EmptyDatasetError, MissingColumnError
from ..core.io import write_parquet_atomic
from ..core.rows import ROW_KEY
from .cache import ResponseCache
from .config import FastTrackConfig
from .index import FastTrackIndex, embed_texts
from .keywords import Keyworder
from .matching import KeywordMatcher, cut_to_budget
from .result import STAT_COLUMNS, FastTrackResult
from .verifiers.base import Verifier
from .verifiers.prompts import VERIFY_PROMPT_VERSION, verification_prompt

__all__ = ["FastTrackTracer", "TraceInterruptedError", "trace_facts"]

logger = logging.getLogger(__name__)


class TraceInterruptedError(DataValueError, RuntimeError):
    """Verification failed part-way; finished queries are kept for a resumed run."""


class FastTrackTracer:
    """Trace query facts to the training rows that state them.

    Args:
        index ([`FastTrackIndex`]): the offline index of `corpus`.
        corpus (`datasets.Dataset`): the indexed corpus (row position = `row_idx`).
        verifier ([`Verifier`]): decides support for batches of passages.
        config ([`FastTrackConfig`], *optional*): online settings; defaults to the index's config.
        keyworder ([`Keyworder`], *optional*): defaults to the index's offline keyworder.
        embedder (`str` or `Embedder`, *optional*): embeds queries for centroid retrieval and tie-breaks;
            defaults to the embedder the index was built with.
        cache ([`ResponseCache`] or path, *optional*): response cache (default: in memory, or
            `output_dir/responses.jsonl` when tracing into a folder).
        progress (`bool`, *optional*, defaults to `True`): progress bar over queries.
    """

    def __init__(
        self,
        index: FastTrackIndex,
        corpus: Any,
        verifier: Verifier,
        config: FastTrackConfig | None = None,
        keyworder: Keyworder | None = None,
        embedder: str | Embedder | None = None,
        cache: ResponseCache | str | os.PathLike[str] | None = None,
        progress: bool = True,
    ) -> None:
        self.index = index
        self.config = config or index.config
        if corpus is None or len(corpus) == 0:
            raise EmptyDatasetError("the corpus is empty: there is nothing to trace into")
        if self.config.text_column not in corpus.column_names:
            raise MissingColumnError("corpus", self.config.text_column, corpus.column_names)
        if len(corpus) != index.n_rows:
            raise ConfigError(f"the index covers {index.n_rows} rows but the corpus has {len(corpus)}: rebuild it")
        self.texts = [str(t) for t in corpus[self.config.text_column]]
        self.corpus_license = getattr(getattr(corpus, "info", None), "license", None)
        self.verifier = verifier
        self.keyworder = keyworder or index.keyworder()
        self.embedder = embedder if embedder is not None else index.meta.get("embedder_spec")
        self.cache = cache if isinstance(cache, ResponseCache) or cache is None else ResponseCache(cache)
        self.progress = progress
        self.matcher = KeywordMatcher(index.keywords)
        self._sizes = index.sizes()

    # ---------------------------------------------------------------- stage 1
    def query_keywords(self, statement: str, subject: str | None = None, answer: str | None = None) -> list[str]:
        """The keyworder's keywords of the statement, plus the subject and answer strings when given."""
        return list(self.weighted_query_keywords(statement, subject, answer, every=True))

    def weighted_query_keywords(
        self, statement: str, subject: str | None = None, answer: str | None = None, every: bool = False
    ) -> dict[str, float]:
        """Query keyword -> weight: subject, answer and statement keywords with their configured weights.

        Statement keywords weigh `statement_weight`, or 1 when the query has neither a subject nor an answer; with
        a zero weight they are left out (and not computed) unless `every=True`.
        """
        cfg = self.config
        out: dict[str, float] = {}
        for text, weight in ((subject, cfg.subject_weight), (answer, cfg.answer_weight)):
            if text and str(text).strip():
                out[str(text)] = max(out.get(str(text), 0.0), weight)
        w_statement = cfg.statement_weight if out else 1.0
        if w_statement > 0 or every:
            for kw in self.keyworder.query_keywords(statement):
                out[kw] = max(out.get(kw, 0.0), w_statement)
        return out

    def max_rows(self) -> int:
        """The per-query candidate budget in rows (`max_corpus_fraction` of the corpus, at least one row)."""
        return max(1, math.floor(self.config.max_corpus_fraction * self.index.n_rows))

    def retrieve(
        self, keywords: Sequence[str] | Mapping[str, float], query_embedding: np.ndarray | None = None
    ) -> list[int]:
        """Cluster ids for one query, best first (keyword matches, then centroid neighbours not yet included).

        `keywords` is a keyword -> weight mapping ([`weighted_query_keywords`]) or a list (every weight 1). The
        ranked list stops before the candidates would exceed [`max_rows`] (the best cluster is always kept).
        """
        cfg = self.config
        sims = self.index.centroids @ query_embedding if query_embedding is not None else None
        weighted = dict(keywords) if isinstance(keywords, Mapping) else dict.fromkeys(keywords, 1.0)
        clusters: list[int] = []
        if cfg.retrieval in ("keywords", "both"):
            kws = [k for k, w in weighted.items() if w > 0]
            values = self.matcher.keyword_values(kws, cfg.fuzzy_threshold, cfg.keyword_weighting)
            ranked = self.matcher.rank(values, [weighted[k] for k in kws], cfg.max_clusters, sims)
            clusters = [c for c, _ in ranked]
        if cfg.retrieval in ("embedding", "both"):
            if sims is None:
                raise ConfigError(f"retrieval={cfg.retrieval!r} needs query embeddings: pass embedder=")
            nearest = np.argsort(-sims, kind="stable")[: cfg.embedding_clusters]
            taken = set(clusters)
            clusters += [int(c) for c in nearest if int(c) not in taken]
        return cut_to_budget(clusters, self._sizes, self.max_rows())

    def _query_embeddings(self, statements: list[str]) -> np.ndarray | None:
        if self.embedder is None:
            if self.config.retrieval != "keywords":
                raise ConfigError(f"retrieval={self.config.retrieval!r} needs an embedder for the queries")
            return None
        return embed_texts(statements, self.config, self.embedder, progress=False)

    # ---------------------------------------------------------------- stage 2
    def _verify_batch(self, statement: str, passages: list[str], stats: dict[str, float]) -> list[bool]:
        key = ResponseCache.key(
            verification_prompt(statement, passages), [self.verifier.describe(), VERIFY_PROMPT_VERSION]
        )
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None and len(cached) == len(passages):
                stats["cache_hits"] += 1
                return [bool(v) for v in cached]
        failures_before = self.verifier.stats.parse_failures
        decisions = [bool(v) for v in self.verifier.verify(statement, passages)]
        if len(decisions) != len(passages):
            raise DataValueError(
                f"verifier {self.verifier.name!r} returned {len(decisions)} decisions for {len(passages)} passages"
            )
        if self.cache is not None and self.verifier.stats.parse_failures == failures_before:
            self.cache.put(key, decisions)  # failed batches are not cached: a rerun asks again
        return decisions

    def trace_one(
        self,
        query_id: str,
        statement: str,
        subject: str | None = None,
        answer: str | None = None,
        query_embedding: np.ndarray | None = None,
        clusters: Sequence[int] | None = None,
    ) -> tuple[list[tuple[str, int, int, bool]], dict[str, Any]]:
        """Trace one query: `(candidate rows, stats row)`; `clusters` overrides retrieval (oracle retrieval)."""
        start = time.perf_counter()
        before = self.verifier.stats.copy()
        keywords = self.weighted_query_keywords(statement, subject, answer)
        chosen = list(clusters) if clusters is not None else self.retrieve(keywords, query_embedding)
        stats: dict[str, Any] = dict.fromkeys(STAT_COLUMNS[1:], 0)
        B, limit = self.config.batch_size, self.config.max_passage_chars
        rows: list[tuple[str, int, int, bool]] = []
        for cid in chosen:
            members = self.index.members(cid)
            for lo in range(0, len(members), B):
                batch = members[lo : lo + B]
                passages = []
                for r in batch:
                    text = self.texts[int(r)]
                    if len(text) > limit:
                        stats["truncated"] += 1
                        text = text[:limit]
                    passages.append(text)
                stats["batches"] += 1
                decisions = self._verify_batch(statement, passages, stats)
                rows += [(query_id, int(r), int(cid), d) for r, d in zip(batch, decisions)]
        delta = self.verifier.stats - before
        stats.update(
            n_keywords=len(keywords),
            n_clusters=len(chosen),
            n_candidates=len(rows),
            n_verified=sum(r[3] for r in rows),
            calls=delta.calls,
            prompt_tokens=delta.prompt_tokens,
            completion_tokens=delta.completion_tokens,
            verifier_seconds=delta.seconds,
            parse_failures=delta.parse_failures,
            retries=delta.retries,
            truncated=stats["truncated"] + delta.truncated,
            seconds=time.perf_counter() - start,
        )
        expected = sum(math.ceil(len(self.index.members(c)) / B) for c in chosen)
        assert stats["batches"] == expected
        return rows, {"query_id": query_id, **stats}

    def trace(
        self,
        queries: Any,
        output_dir: str | os.PathLike[str] | None = None,
        query_embeddings: np.ndarray | None = None,
        cluster_override: Mapping[str, Sequence[int]] | None = None,
        checkpoint_every: int = 50,
        license: str | None = None,
        overwrite: bool = False,
    ) -> FastTrackResult:
        """Trace every query (`datasets.Dataset` with `config.query_column`); see the class docstring.

        Args:
            queries (`datasets.Dataset`): the facts to trace.
            output_dir (`str`, *optional*): save the result there; finished queries are checkpointed and reused.
            query_embeddings (`np.ndarray`, *optional*): `(n_queries, d)` precomputed query embeddings.
            cluster_override (`Mapping[str, Sequence[int]]`, *optional*): query_id -> clusters (oracle retrieval).
            checkpoint_every (`int`, *optional*, defaults to 50): queries per checkpoint chunk.
            license (`str`, *optional*): licence of the traced data, recorded in provenance (e.g. `cc-by-nc-4.0`);
                read from the datasets' `info.license` when omitted.
            overwrite (`bool`, *optional*, defaults to `False`): replace finished results in `output_dir`.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        if queries is None or len(queries) == 0:
            raise EmptyDatasetError("no queries to trace")
        if cfg.query_column not in queries.column_names:
            raise MissingColumnError("queries", cfg.query_column, queries.column_names)
        names = queries.column_names
        statements = [str(s) for s in queries[cfg.query_column]]
        if any(not s.strip() for s in statements):
            raise EmptyDatasetError(f"some queries have an empty {cfg.query_column!r}; drop them first")
        qids = [str(q) for q in queries[cfg.query_id_column]] if cfg.query_id_column in names else None
        qids = qids or [str(i) for i in range(len(statements))]
        if len(set(qids)) != len(qids):
            raise ConfigError(f"query ids in {cfg.query_id_column!r} are not unique")
        subjects = list(queries[cfg.subject_column]) if cfg.subject_column and cfg.subject_column in names else None
        answers = list(queries[cfg.answer_column]) if cfg.answer_column and cfg.answer_column in names else None
        out = Path(output_dir) if output_dir is not None else None
        if out is not None and (out / "traces.parquet").exists() and not overwrite:
            from ..core.errors import OutputExistsError

            raise OutputExistsError(f"{out} already holds finished traces; pass overwrite=True or another folder")
        if out is not None and self.cache is None:
            self.cache = ResponseCache(out / "responses.jsonl")
        if self.cache is None:
            self.cache = ResponseCache()
        done_rows, done_stats = self._load_partial(out) if out is not None else ([], [])
        done = {s["query_id"] for s in done_stats}
        embed_start = time.perf_counter()
        todo = [i for i, q in enumerate(qids) if q not in done]
        if query_embeddings is not None:
            q_emb: np.ndarray | None = np.asarray(query_embeddings, dtype=np.float32)
        else:
            q_emb = self._query_embeddings([statements[i] for i in todo]) if todo else None
            if q_emb is not None:
                full = np.zeros((len(qids), q_emb.shape[1]), np.float32)
                full[todo] = q_emb
                q_emb = full
        embed_share = (time.perf_counter() - embed_start) / max(1, len(todo))
        chunk_rows: list[tuple[str, int, int, bool]] = []
        chunk_stats: list[dict[str, Any]] = []
        all_rows, all_stats = list(done_rows), list(done_stats)
        bar = tqdm(total=len(qids), initial=len(done), desc="Tracing", unit="query", disable=not self.progress)
        try:
            for i in todo:
                rows, st = self.trace_one(
                    qids[i],
                    statements[i],
                    str(subjects[i]) if subjects is not None and subjects[i] is not None else None,
                    str(answers[i]) if answers is not None and answers[i] is not None else None,
                    q_emb[i] if q_emb is not None else None,
                    cluster_override.get(qids[i]) if cluster_override is not None else None,
                )
                st["seconds"] += embed_share
                chunk_rows += rows
                chunk_stats.append(st)
                bar.update(1)
                if out is not None and len(chunk_stats) >= checkpoint_every:
                    self._write_chunk(out, chunk_rows, chunk_stats)
                    all_rows += chunk_rows
                    all_stats += chunk_stats
                    chunk_rows, chunk_stats = [], []
        except Exception as err:
            finished = len(all_stats)
            if out is not None and chunk_stats:
                self._write_chunk(out, chunk_rows, chunk_stats)
                finished += len(chunk_stats)
            where = f" (kept in {out / 'partial'}; rerun to resume)" if out is not None else ""
            raise TraceInterruptedError(
                f"verification failed after {finished} of {len(qids)} finished queries{where}: "
                f"{type(err).__name__}: {err}"
            ) from err
        finally:
            bar.close()
        all_rows += chunk_rows
        all_stats += chunk_stats
        order = {q: k for k, q in enumerate(qids)}
        all_stats.sort(key=lambda s: order.get(s["query_id"], len(order)))
        result = self._result(all_rows, all_stats, queries, license)
        if out is not None:
            result.save(out, overwrite=True)
            shutil.rmtree(out / "partial", ignore_errors=True)
        return result

    # ---------------------------------------------------------------- files
    @staticmethod
    def _tables(rows: list[tuple[str, int, int, bool]], stats: list[dict[str, Any]]) -> tuple[Any, Any]:
        import pyarrow as pa

        cand = pa.table(
            {
                "query_id": pa.array([r[0] for r in rows], pa.string()),
                ROW_KEY: pa.array([r[1] for r in rows], pa.int64()),
                "cluster_id": pa.array([r[2] for r in rows], pa.int64()),
                "verified": pa.array([r[3] for r in rows], pa.bool_()),
            }
        )
        cols: dict[str, Any] = {"query_id": pa.array([s["query_id"] for s in stats], pa.string())}
        for c in STAT_COLUMNS[1:]:
            typ = pa.float64() if c.endswith("seconds") else pa.int64()
            cols[c] = pa.array([s[c] for s in stats], typ)
        return cand, pa.table(cols)

    def _write_chunk(self, out: Path, rows: list[tuple[str, int, int, bool]], stats: list[dict[str, Any]]) -> None:
        part = out / "partial"
        k = len(list(part.glob("stats-*.parquet"))) if part.is_dir() else 0
        cand, st = self._tables(rows, stats)
        write_parquet_atomic(part / f"candidates-{k:05d}.parquet", cand)
        write_parquet_atomic(part / f"stats-{k:05d}.parquet", st)  # written last: marks the chunk complete

    def _load_partial(self, out: Path) -> tuple[list[tuple[str, int, int, bool]], list[dict[str, Any]]]:
        import pyarrow.parquet as pq

        part = out / "partial"
        rows: list[tuple[str, int, int, bool]] = []
        stats: list[dict[str, Any]] = []
        if not part.is_dir():
            return rows, stats
        for st_file in sorted(part.glob("stats-*.parquet")):
            cand_file = part / st_file.name.replace("stats-", "candidates-")
            if not cand_file.is_file():
                continue
            stats += pq.read_table(st_file).to_pylist()
            cand = pq.read_table(cand_file).to_pydict()
            rows += list(zip(cand["query_id"], cand[ROW_KEY], cand["cluster_id"], cand["verified"]))
        if stats:
            logger.info("resuming: %d queries already traced in %s", len(stats), part)
        return rows, stats

    def _result(
        self, rows: list[tuple[str, int, int, bool]], stats: list[dict[str, Any]], queries: Any, license: str | None
    ) -> FastTrackResult:
        cand, st = self._tables(rows, stats)
        config = self.config.to_dict()
        result = FastTrackResult(cand, st, config)
        prov = result.provenance
        prov.embedder = self.index.meta.get("embedder")
        licences = {license} if license else set()
        if not license:
            for lic in (self.corpus_license, getattr(getattr(queries, "info", None), "license", None)):
                if lic:
                    licences.add(str(lic))
        prov.extra.update(
            verifier=self.verifier.describe(),
            verify_prompt_version=VERIFY_PROMPT_VERSION,
            keyworder=self.keyworder.describe(),
            index={"n_rows": self.index.n_rows, "n_clusters": self.index.n_clusters, **self.index.meta},
            cache_entries=len(self.cache) if self.cache is not None else 0,
            license=sorted(licences)[0] if len(licences) == 1 else (sorted(licences) or None),
            note="library choices (no public FastTrack code); not a reproduction of the paper's LLM numbers",
        )
        prov.source_fingerprint = self.index.meta.get("source_fingerprint")
        return result


def trace_facts(
    corpus: Any,
    queries: Any,
    verifier: Verifier | str,
    config: FastTrackConfig | None = None,
    embedder: str | Embedder | None = None,
    keyworder: Keyworder | None = None,
    index: FastTrackIndex | str | os.PathLike[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **verifier_kwargs: Any,
) -> FastTrackResult:
    """One call: build (or load) the index, then trace every query with `verifier` (an object or a spec string).

    Usage:

    ```python
    from hf_datavalue.fasttrack import FastTrackConfig, trace_facts

    result = trace_facts(corpus, queries, "cross-encoder:outputs/verifier", FastTrackConfig(), embedder=minilm)
    ```
    """
    from .verifiers.base import build_verifier
    from .verifiers.oracle import OracleVerifier

    config = config or FastTrackConfig()
    if isinstance(index, (str, os.PathLike)):
        index = FastTrackIndex.load(index)
    if index is None:
        index = FastTrackIndex.build(corpus, config, embedder=embedder, keyworder=keyworder, progress=progress)
    if isinstance(verifier, str):
        if verifier.strip() == "oracle" and "truth" not in verifier_kwargs:
            verifier = OracleVerifier.from_queries(
                queries, corpus, text_column=config.text_column, statement_column=config.query_column
            )
        else:
            verifier = build_verifier(verifier, **verifier_kwargs)
    tracer = FastTrackTracer(
        index, corpus, verifier, config, keyworder=keyworder, embedder=embedder, progress=progress
    )
    return tracer.trace(queries, output_dir=output_dir)
