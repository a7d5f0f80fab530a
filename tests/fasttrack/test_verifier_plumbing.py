"""The trained-verifier route end to end: pairs, label index, score order, tracer decisions and the pre-screen.

Last session's end-to-end row (macro F1 0.002) looked like a plumbing bug. These tests pin every joint between
the training pairs, the model's `supports` label, the scores and the tracer's per-row decisions, so a swap of
label index, passage order, statement, threshold direction or cache key fails here.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer
from hf_datavalue.fasttrack.evaluation import proponent_rows
from hf_datavalue.fasttrack.verifier_training import (
    VerifierTrainingArguments,
    _score,
    build_verifier_pairs,
)
from hf_datavalue.fasttrack.verifiers.cross_encoder import VERIFIER_CONFIG, CrossEncoderVerifier
from hf_datavalue.fasttrack.verifiers.prescreen import content_tokens, overlap, tune_min_overlap

from .helpers import tiny_cross_encoder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_cross_encoder(tmp_path_factory.mktemp("ce_plumbing"))


def test_pairs_labels_and_kinds(lama_slice):
    corpus, queries = lama_slice
    args = VerifierTrainingArguments(n_bm25=2, n_subject_other=2, n_same_answer=2, n_random=2, max_positives=3)
    rows = np.arange(12)
    pairs = build_verifier_pairs(queries, corpus, rows, args)
    props = proponent_rows(queries, corpus)
    by_id = {q: i for i, q in enumerate(queries["query_id"])}
    texts = corpus["text"]
    kinds = set(pairs["kind"])
    assert {"proponent", "bm25", "random", "answer_swap"} <= kinds
    for st, sent, y, qid, r, kind in zip(
        *(pairs[k] for k in ("statement", "sentence", "label", "query_id", "row", "kind"))
    ):
        q = by_id[qid]
        assert sent == texts[r]  # the row column points at the sentence
        assert y == (kind == "proponent")
        if kind == "proponent":
            assert r in props[q] and st == queries[q]["statement"]
        elif kind == "answer_swap":  # a conflicting statement paired with a true proponent
            assert r in props[q] and st != queries[q]["statement"]
            assert queries[q]["obj_label"] not in st
        else:
            assert r not in props[q] and st == queries[q]["statement"]
        if kind == "subject_other":
            assert re.search(r"(?<!\w)" + re.escape(queries[q]["sub_label"].lower()) + r"(?!\w)", sent.lower())
    counts = {q: pairs["query_id"].count(q) for q in set(pairs["query_id"])}
    assert all(
        sum(1 for k, x in zip(pairs["kind"], pairs["query_id"]) if x == q and k == "proponent") <= 3 for q in counts
    )
    assert build_verifier_pairs(queries, corpus, rows, args) == pairs  # seeded


def test_training_scores_match_the_verifier_in_pair_order(model_dir, lama_slice):
    corpus, queries = lama_slice
    pairs = build_verifier_pairs(queries, corpus, np.arange(2), VerifierTrainingArguments(max_length=64))
    v = CrossEncoderVerifier(model_dir, max_length=64)
    train_side = _score(v.model, v.tokenizer, pairs, VerifierTrainingArguments(max_length=64))
    one_by_one = np.asarray([v.scores(s, [p])[0] for s, p in zip(pairs["statement"], pairs["sentence"])])
    np.testing.assert_allclose(train_side, one_by_one, atol=1e-5)  # length-sorted scoring keeps pair order
    assert len(set(np.round(one_by_one, 6))) > 1  # the check compares distinct numbers


def test_positive_label_follows_id2label(model_dir, tmp_path):
    assert CrossEncoderVerifier(model_dir).positive_index == 1  # {0: not_supports, 1: supports}
    assert CrossEncoderVerifier(tiny_cross_encoder(tmp_path, positive_first=True)).positive_index == 0


def test_tracer_decisions_equal_thresholded_scores(model_dir, lama_slice):
    """Each (query, row) decision is the verifier's own score for that statement and that row's text."""
    corpus, queries = lama_slice
    cfg = FastTrackConfig(embedding_column="bow", tau=25, kmeans_backend="faiss", max_clusters=3, batch_size=7)
    index = FastTrackIndex.build(corpus, cfg, progress=False)
    v = CrossEncoderVerifier(model_dir)
    sub = queries.select(range(5))
    probe = np.concatenate([v.scores(s, corpus["text"][:30]) for s in sub["statement"]])
    v.threshold = float(np.median(probe))  # about half the pairs pass: decisions are informative
    tracer = FastTrackTracer(index, corpus, v, cfg, progress=False)
    res = tracer.trace(sub)
    cand = res.to_dataset().to_dict()
    texts = corpus["text"]
    expected = []
    for qid, statement in zip(sub["query_id"], sub["statement"]):  # one call per query, rows in candidate order
        rows = [r for q, r in zip(cand["query_id"], cand["row_idx"]) if q == qid]
        expected += [bool(p >= v.threshold) for p in v.scores(statement, [texts[r] for r in rows])]
    order = {q: k for k, q in enumerate(sub["query_id"])}
    assert [order[q] for q in cand["query_id"]] == sorted(order[q] for q in cand["query_id"])
    assert cand["verified"] == expected
    assert 0 < sum(expected) < len(expected)
    # statements never share cache entries: rerun in another order from the same cache, nothing changes
    calls = v.stats.calls
    again = tracer.trace(sub.select([1, 0, 3, 2, 4]))
    assert again.returned_sets() == res.returned_sets() and v.stats.calls == calls


def test_prescreen_overlap_and_gate(model_dir, tmp_path):
    assert content_tokens("Steve Nunn was born in Glasgow .") == {"steve", "nunn", "born", "glasgow"}
    assert overlap("Steve Nunn was born in Glasgow .", "Nunn was born in Glasgow, Scotland.") == 0.75
    assert overlap("the of", "anything") == 1.0
    stmts = ["Ann Lee was born in Rome ."] * 4
    support = ["Ann Lee (born in Rome)", "Lee, born in Rome", "Rome, Lee", "She was Italian"]  # 1, .75, .5, 0
    assert tune_min_overlap(stmts, support, keep=0.75) == 0.5
    assert tune_min_overlap(stmts, support, keep=1.0) == 0.0
    v = CrossEncoderVerifier(model_dir, min_overlap=0.5, threshold=0.0)
    out = v.verify("Ann Lee was born in Rome .", ["Ann Lee was born in Rome.", "Paris is in France."])
    assert out == [True, False] and v.screened == 1 and v.stats.calls == 1
    assert v.scores("Ann Lee was born in Rome .", ["Paris is in France."]).tolist() == [0.0]
    assert v.stats.calls == 1  # an all-screened batch makes no model call
    assert v.describe()["min_overlap"] == 0.5  # the gate keys the response cache
    import shutil

    folder = tmp_path / "v"
    shutil.copytree(model_dir, folder)
    (folder / VERIFIER_CONFIG).write_text(json.dumps({"threshold": 0.4, "min_overlap": 0.3}))
    assert CrossEncoderVerifier(str(folder)).min_overlap == 0.3
