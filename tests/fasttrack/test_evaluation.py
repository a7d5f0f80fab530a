"""The evaluation harness on the real LAMA-TREx files: ground truth, statistics, splits, candidate sets, BM25."""

from __future__ import annotations

import numpy as np
import pytest

from hf_datavalue.fasttrack.evaluation import (
    BM25Ranker,
    EmbeddingRanker,
    apply_cutoff,
    build_candidate_sets,
    dataset_statistics,
    oracle_best_k,
    proponent_rows,
    relation_split,
    set_metrics,
    stratified_dev_split,
    tune_cutoff,
)

from .helpers import _full, bow_embeddings


@pytest.fixture(scope="module")
def full(shared_data):
    return _full(str(shared_data))  # load_lama_trex asserts proponents == rows annotated with the fact


def test_statistics_computed_at_load(full):
    corpus, queries = full
    stats = dataset_statistics(corpus, queries)
    props = [len(p) for p in queries["proponent_doc_ids"]]
    assert stats["n_queries"] == len(queries) and stats["n_corpus"] == len(corpus)
    assert stats["proponents_per_query_mean"] == pytest.approx(float(np.mean(props)))
    assert stats["proponents_per_query_max"] == max(props) and min(props) >= 1
    assert stats["queries_without_prefix"] == sum(p is None for p in queries["query_prefix"])
    assert corpus.info.license == "cc-by-nc-4.0"


def test_splits_are_stratified_and_seeded(full):
    _, queries = full
    rel = np.asarray(queries["predicate_id"])
    dev, test = stratified_dev_split(rel, 0.2, seed=0)
    assert len(np.intersect1d(dev, test)) == 0 and len(dev) + len(test) == len(rel)
    for r in set(rel.tolist()):
        n = int((rel == r).sum())
        assert int((rel[dev] == r).sum()) == round(0.2 * n)
    assert np.array_equal(dev, stratified_dev_split(rel, 0.2, seed=0)[0])
    train_rel, eval_rel = relation_split(rel, 0.5, seed=0)
    assert set(train_rel).isdisjoint(eval_rel) and len(train_rel) + len(eval_rel) == len(set(rel.tolist()))


def test_candidate_sets_protocol(full):
    corpus, queries = full
    q = queries.select(range(0, len(queries), 70))
    a = build_candidate_sets(q, corpus, seed=0)
    b = build_candidate_sets(q, corpus, seed=0)
    assert a["row_idx"] == b["row_idx"]  # deterministic for seed 0
    props = dict(zip(q["query_id"], proponent_rows(q, corpus)))
    df = a.to_pandas()
    for qid, group in df.groupby("query_id"):
        rows = group["row_idx"].tolist()
        assert len(rows) == len(set(rows))  # no duplicates
        assert props[qid] <= set(rows)  # every proponent
        assert set(group.loc[group.is_proponent, "row_idx"]) == props[qid]  # negatives disjoint from proponents
        assert len(rows) <= len(props[qid]) + 200


def test_bm25_and_embedding_cutoffs_tuned_on_dev(full):
    corpus, queries = full
    rows = sorted({r for p in proponent_rows(queries.select(range(60)), corpus) for r in p} | set(range(1500)))
    small = corpus.select(rows)
    q = queries.select(range(60))
    props = proponent_rows(q, small)
    bm25 = BM25Ranker(small["text"])
    ids, scores = bm25.retrieve(q["statement"], k=20)
    assert ids.shape == (60, 20) and (np.diff(scores, axis=1) <= 1e-9).all()
    dev, test = np.arange(0, 60, 5), np.setdiff1d(np.arange(60), np.arange(0, 60, 5))
    cut = tune_cutoff(ids[dev], scores[dev], [props[i] for i in dev])
    returned = apply_cutoff(ids[test], scores[test], cut)
    f1 = set_metrics(returned, [props[i] for i in test])["macro_f1"]
    upper = set_metrics(oracle_best_k(ids[test], [props[i] for i in test]), [props[i] for i in test])["macro_f1"]
    assert 0.0 < f1 <= upper <= 1.0
    emb = EmbeddingRanker(bow_embeddings(small["text"]))
    e_ids, e_scores = emb.retrieve(bow_embeddings(q["statement"]), k=10)
    assert e_ids.shape == (60, 10) and np.allclose(
        e_scores[:, 0], [emb.scores(v)[i] for v, i in zip(bow_embeddings(q["statement"]), e_ids[:, 0])]
    )
