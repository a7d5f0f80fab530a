"""FastTrack on a real slice of LAMA-TREx: oracle checks, batch invariance, costs, cache, resume, bad input."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from hf_datavalue.core.errors import EmptyDatasetError, MissingColumnError
from hf_datavalue.fasttrack import (
    FastTrackConfig,
    FastTrackIndex,
    FastTrackResult,
    FastTrackTracer,
    ResponseCache,
    TraceInterruptedError,
    Verifier,
)
from hf_datavalue.fasttrack.evaluation import proponent_rows, stagewise_report
from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier

CONFIG = FastTrackConfig(
    embedding_column="bow", tau=20, kmeans_backend="faiss", max_clusters=6, max_corpus_fraction=1.0
)


@pytest.fixture(scope="module")
def built(lama_slice):
    corpus, queries = lama_slice
    index = FastTrackIndex.build(corpus, CONFIG, progress=False)
    props = dict(zip(queries["query_id"], proponent_rows(queries, corpus)))
    return corpus, queries, index, props


def oracle(corpus, queries) -> OracleVerifier:
    return OracleVerifier.from_queries(queries, corpus)


def test_index_partitions_corpus_with_keywords(built):
    corpus, _, index, _ = built
    table = index.to_dataset()
    assert table.column_names == ["row_idx", "cluster_id", "cluster_path"]
    assert sorted(table["row_idx"]) == list(range(len(corpus)))
    assert index.sizes().max() <= CONFIG.tau
    assert all(len(k) >= 1 for k in index.keywords)


def test_oracle_precision_one_and_recall_equals_stage1(built):
    corpus, queries, index, props = built
    result = FastTrackTracer(index, corpus, oracle(corpus, queries), progress=False).trace(queries)
    report = stagewise_report(result, props, n_corpus=len(corpus))
    assert report["verifier_precision"] == 1.0
    assert report["end_to_end"]["micro_recall"] == pytest.approx(report["stage1_recall_micro"])
    assert report["end_to_end"]["macro_recall"] == pytest.approx(report["stage1_recall_macro"])
    assert 0.3 < report["stage1_recall_micro"] <= 1.0  # keyword retrieval finds real proponents
    ds = result.to_dataset()
    assert ds.column_names == ["query_id", "row_idx", "cluster_id", "verified"]
    for r, c in zip(ds["row_idx"], ds["cluster_id"]):
        assert index.labels[r] == c
    # oracle retrieval (every cluster holding a proponent) gives recall 1
    override = {q: sorted({int(index.labels[r]) for r in p}) for q, p in props.items()}
    full = FastTrackTracer(index, corpus, oracle(corpus, queries), progress=False).trace(
        queries, cluster_override=override
    )
    rep = stagewise_report(full, props)
    assert rep["end_to_end"]["micro_recall"] == 1.0 and rep["end_to_end"]["micro_precision"] == 1.0


def test_cost_accounting_and_batch_invariance(built):
    corpus, queries, index, _ = built
    results = {}
    for b in (3, 10):
        cfg = FastTrackConfig.from_dict({**CONFIG.to_dict(), "batch_size": b})
        tracer = FastTrackTracer(index, corpus, oracle(corpus, queries), cfg, progress=False)
        res = tracer.trace(queries)
        st = res.query_stats.to_pydict()
        cand = res.to_dataset().to_pandas()
        for q, calls, n_clusters in zip(st["query_id"], st["calls"], st["n_clusters"]):
            clusters = cand.loc[cand.query_id == q, "cluster_id"].unique()
            assert len(clusters) == n_clusters
            assert calls == sum(math.ceil(len(index.members(c)) / b) for c in clusters)
        results[b] = res.returned_sets()
    assert results[3] == results[10]
    # candidate order does not matter either: reversed cluster order, same returned sets
    base = FastTrackTracer(index, corpus, oracle(corpus, queries), CONFIG, progress=False)
    kw = {
        q: base.retrieve(base.weighted_query_keywords(s, sub, obj))
        for q, s, sub, obj in zip(
            queries["query_id"], queries["statement"], queries["sub_label"], queries["obj_label"]
        )
    }
    rev = base.trace(queries, cluster_override={q: c[::-1] for q, c in kw.items()})
    assert rev.returned_sets() == results[10]


def test_row_budget_and_weighted_query_keywords(built):
    corpus, queries, index, props = built
    wide = FastTrackConfig.from_dict({**CONFIG.to_dict(), "max_clusters": 1000})
    tight = FastTrackConfig.from_dict({**wide.to_dict(), "max_corpus_fraction": 0.1})
    runs = {}
    for name, cfg in (("wide", wide), ("tight", tight)):
        tracer = FastTrackTracer(index, corpus, oracle(corpus, queries), cfg, progress=False)
        res = tracer.trace(queries)
        runs[name] = (res.query_stats.to_pydict(), stagewise_report(res, props)["stage1_recall_micro"], tracer)
    sizes = index.sizes()
    budget = runs["tight"][2].max_rows()
    assert budget == int(0.1 * len(corpus))
    for n_cand, n_clusters in zip(runs["tight"][0]["n_candidates"], runs["tight"][0]["n_clusters"]):
        assert n_cand <= max(budget, sizes.max()) and (n_cand <= budget or n_clusters == 1)  # best cluster kept
    assert sum(runs["tight"][0]["n_candidates"]) < sum(runs["wide"][0]["n_candidates"])
    assert runs["tight"][1] <= runs["wide"][1]
    tracer = runs["wide"][2]
    kw = tracer.weighted_query_keywords("Steve Nunn was born in Glasgow .", "Steve Nunn", "Glasgow")
    assert kw == {"Steve Nunn": 2.0, "Glasgow": 1.0}  # statement keywords weigh 0 by default: not computed
    fallback = tracer.weighted_query_keywords("Steve Nunn was born in Glasgow .")
    assert fallback and set(fallback.values()) == {1.0} and "Steve Nunn" in fallback  # no subject/answer given
    # the subject-first ranking keeps a proponent cluster on top for most queries
    top_hits = 0
    for q, s, sub, obj in zip(queries["query_id"], queries["statement"], queries["sub_label"], queries["obj_label"]):
        ranked = tracer.retrieve(tracer.weighted_query_keywords(s, sub, obj))
        top_hits += bool(ranked) and ranked[0] in {int(index.labels[r]) for r in props[q]}
    assert top_hits >= 0.6 * len(queries)


def test_response_cache_second_run_makes_zero_calls(built, tmp_path):
    corpus, queries, index, _ = built
    v1 = oracle(corpus, queries)
    first = FastTrackTracer(index, corpus, v1, cache=tmp_path / "c.jsonl", progress=False).trace(queries)
    assert v1.stats.calls > 0
    v2 = oracle(corpus, queries)
    second = FastTrackTracer(index, corpus, v2, cache=ResponseCache(tmp_path / "c.jsonl"), progress=False).trace(
        queries
    )
    assert v2.stats.calls == 0
    assert sum(second.query_stats.column("cache_hits").to_pylist()) == sum(first.query_stats["batches"].to_pylist())
    assert second.returned_sets() == first.returned_sets()


class FlakyOracle(OracleVerifier):
    """Fails (like an unreachable endpoint) after `fail_after` calls."""

    def __init__(self, truth, fail_after: int) -> None:
        super().__init__(truth)
        self.fail_after = fail_after

    def verify(self, statement: str, passages: Sequence[str]) -> list[bool]:
        if self.stats.calls >= self.fail_after:
            raise ConnectionError("endpoint unreachable after retries")
        return super().verify(statement, passages)


def test_interrupted_trace_keeps_finished_queries_and_resumes(built, tmp_path):
    corpus, queries, index, _ = built
    truth = oracle(corpus, queries).truth
    out = tmp_path / "run"
    flaky = FlakyOracle(truth, fail_after=60)
    with pytest.raises(TraceInterruptedError, match="rerun to resume"):
        FastTrackTracer(index, corpus, flaky, progress=False).trace(queries, output_dir=out, checkpoint_every=5)
    assert not (out / "traces.parquet").exists()  # nothing presented as complete
    assert list((out / "partial").glob("stats-*.parquet"))
    resumed_verifier = FlakyOracle(truth, fail_after=10**9)
    resumed = FastTrackTracer(index, corpus, resumed_verifier, progress=False).trace(queries, output_dir=out)
    fresh = FastTrackTracer(index, corpus, oracle(corpus, queries), progress=False).trace(queries)
    assert resumed.returned_sets() == fresh.returned_sets()
    assert resumed.query_ids == fresh.query_ids
    assert resumed_verifier.stats.calls < sum(fresh.query_stats["calls"].to_pylist())  # finished work not redone
    loaded = FastTrackResult.load(out)
    assert loaded.returned_sets() == fresh.returned_sets()
    assert loaded.provenance.extra["license"] == "cc-by-nc-4.0"
    assert not (out / "partial").exists()


class ByLengthVerifier(Verifier):
    name = "by-length"

    def verify(self, statement, passages):
        self.stats.calls += 1
        return [len(p) % 2 == 0 for p in passages]


def test_long_passages_are_truncated_and_counted(built):
    corpus, queries, index, _ = built
    cfg = FastTrackConfig.from_dict({**CONFIG.to_dict(), "max_passage_chars": 40})
    res = FastTrackTracer(index, corpus, ByLengthVerifier(), cfg, progress=False).trace(queries.select(range(5)))
    n_long = sum(int(len(corpus[int(r)]["text"]) > 40) for r in res.to_dataset()["row_idx"])
    assert sum(res.query_stats["truncated"].to_pylist()) == n_long > 0


def test_bad_input(built):
    corpus, queries, index, _ = built
    with pytest.raises(EmptyDatasetError):
        FastTrackIndex.build(corpus.select([]), CONFIG)
    with pytest.raises(EmptyDatasetError):
        FastTrackTracer(index, corpus.select([]), ByLengthVerifier())
    tracer = FastTrackTracer(index, corpus, ByLengthVerifier(), progress=False)
    with pytest.raises(MissingColumnError, match="statement"):
        tracer.trace(queries.remove_columns("statement"))
    with pytest.raises(EmptyDatasetError):
        tracer.trace(queries.select([]))


def test_index_save_load_round_trip(built, tmp_path):
    corpus, queries, index, _ = built
    index.save(tmp_path / "idx")
    again = FastTrackIndex.load(tmp_path / "idx")
    np.testing.assert_array_equal(again.labels, index.labels)
    assert again.keywords == index.keywords and again.paths == index.paths
    assert again.config == index.config
    a = FastTrackTracer(index, corpus, oracle(corpus, queries), progress=False).trace(queries)
    b = FastTrackTracer(again, corpus, oracle(corpus, queries), progress=False).trace(queries)
    assert a.returned_sets() == b.returned_sets()
