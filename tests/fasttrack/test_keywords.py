"""Keyword plumbing with a deterministic fake LLM (keywords = most frequent capitalised tokens), and matching."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np

from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer, ResponseCache
from hf_datavalue.fasttrack.keywords import LLMKeyworder, TfidfKeyworder, entity_strings
from hf_datavalue.fasttrack.matching import KeywordMatcher, normalize_keyword
from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier


class FakeLLM:
    """Deterministic 'LLM': the 5 most frequent capitalised tokens of the prompt's listed texts, as JSON."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, prompt: str) -> str:
        self.calls += 1
        listed = "\n".join(line[2:] for line in prompt.splitlines() if line.startswith("- "))
        counts = Counter(re.findall(r"\b[A-Z][a-z]+\b", listed))
        return json.dumps([w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]])


def test_entity_strings_and_tfidf_keywords():
    ents = entity_strings("Henning Schmitz, born in Germany, joined Kraftwerk. The University of Glasgow is old.")
    assert ents == ["Henning Schmitz", "Germany", "Kraftwerk", "University of Glasgow"]
    kw = TfidfKeyworder(max_keywords=6)
    out = kw.fit(
        ["Steve Nunn was born in Glasgow.", "Milan is in Italy.", "Guido Crepax was born in Milan."],
        np.array([0, 1, 1]),
        n_clusters=2,
    )
    assert "Steve Nunn" in out[0] and "Guido Crepax" in out[1] and "Milan" in out[1]
    assert kw.query_keywords("Steve Nunn was born in Glasgow .")[:2] == ["Steve Nunn", "Glasgow"]


def test_matcher_thresholds_and_caps():
    assert normalize_keyword("  Saint-Étienne!! ") == "saint étienne"
    m = KeywordMatcher([["Glasgow", "Scotland"], ["Milan", "Guido Crepax"], ["Glasgow Celtic"]])
    hits = m.match(["Glasgow"], threshold=85, max_clusters=5)
    assert {c for c, _ in hits} == {0, 2} and all(0 < s <= 1 for _, s in hits)
    assert m.match(["Glasgow"], threshold=85, max_clusters=1) == [hits[0]]
    assert m.match(["Tokyo"], threshold=85) == []
    # ties broken by the given similarity
    assert m.match(["Glasgow"], 85, 5, tie_break=np.array([0.0, 0.0, 1.0]))[0][0] == 2
    # threshold 0 accepts every pair: every cluster matches
    assert {c for c, _ in m.match(["Tokyo"], threshold=0, max_clusters=10)} == {0, 1, 2}


def test_fast_token_set_scores_equal_brute_force():
    from rapidfuzz import fuzz

    rng = np.random.default_rng(0)
    toks = ["glasgow", "steve", "nunn", "new", "york", "milan", "mila", "nun", "stev", "city", "ab", "of", "the"]
    clusters = [[" ".join(rng.choice(toks, size=rng.integers(1, 4))) for _ in range(5)] for _ in range(40)]
    m = KeywordMatcher(clusters)
    for query in ["steve nunn", "new new york", "mila", "xyz", "glasgo", "york york", "the city of"]:
        brute = np.asarray([fuzz.token_set_ratio(query, w) for w in m.words], dtype=np.float32)
        ids, sims = m.similarities(query, 0)
        np.testing.assert_allclose(sims, brute, atol=1e-4)
        ids, sims = m.similarities(query, 85)
        assert set(ids.tolist()) == set(np.flatnonzero(brute >= 85).tolist())


def test_inverse_cluster_frequency_and_keyword_weights():
    # "steve" is held by 4 clusters, "nunn" by one: the rare match ranks first under icf, by id without it
    clusters = [["Steve"], ["Steve"], ["Steve"], ["Steve", "Glasgow"], ["Nunn"]]
    m = KeywordMatcher(clusters)
    assert m.match(["Steve Nunn"], 90, 10)[0][0] == 4
    plain = m.match(["Steve Nunn"], 90, 10, weighting="none")
    assert [c for c, _ in plain] == [0, 1, 2, 3, 4] and {s for _, s in plain} == {1.0}
    # the subject counts twice the answer: subject-only cluster 4 beats answer-only cluster 3
    ranked = m.match(["Nunn", "Glasgow"], 90, 10, weights=[2.0, 1.0], weighting="none")
    assert [c for c, _ in ranked] == [4, 3]
    # row budget: stop before the candidates exceed max_rows, always keep the best cluster
    sizes = np.array([5, 5, 5, 5, 8])
    assert [c for c, _ in m.match(["Steve Nunn"], 90, 10, sizes=sizes, max_rows=14)] == [4, 0]
    assert [c for c, _ in m.match(["Steve Nunn"], 90, 10, sizes=sizes, max_rows=3)] == [4]


def test_tfidf_keyworder_keeps_every_keyword_by_default():
    texts = ["Steve Nunn was born in Glasgow.", "Nunn met Guido Crepax in Milan.", "Milan is in Italy."]
    out = TfidfKeyworder().fit(texts, np.array([0, 0, 1]), n_clusters=2)
    assert {"Steve Nunn", "Glasgow", "Guido Crepax", "Milan", "nunn", "met"} <= set(out[0])
    assert len(out[0]) == len(set(out[0]))
    capped = TfidfKeyworder(max_keywords=3).fit(texts, np.array([0, 0, 1]), n_clusters=2)
    assert max(len(k) for k in capped) <= 3


def test_fake_llm_keywording_is_reproducible_and_cached(lama_slice, tmp_path):
    corpus, queries = lama_slice
    # the LLM keywords of the statement are used (statement_weight > 0), as in the paper
    cfg = FastTrackConfig(embedding_column="bow", tau=25, kmeans_backend="faiss", statement_weight=1.0)
    runs = []
    for _ in range(2):
        llm = FakeLLM()
        kw = LLMKeyworder(llm, model={"name": "fake"}, cache=ResponseCache(tmp_path / "kw.jsonl"))
        index = FastTrackIndex.build(corpus, cfg, keyworder=kw, progress=False)
        oracle = OracleVerifier.from_queries(queries, corpus)
        res = FastTrackTracer(index, corpus, oracle, keyworder=kw, progress=False).trace(queries)
        runs.append((llm.calls, index.keywords, res.returned_sets()))
    assert runs[0][0] == len(runs[0][1]) + len(queries)  # one call per cluster and per query
    assert runs[1][0] == 0  # second run: every prompt answered from the cache
    assert runs[0][1] == runs[1][1] and runs[0][2] == runs[1][2]
    assert any(runs[0][2].values())  # the fake keywords still retrieve proponents


def test_unreadable_keyword_reply_is_retried_once_and_counted():
    calls = []

    def bad(prompt: str) -> str:
        calls.append(prompt)
        return "I cannot answer"

    kw = LLMKeyworder(bad)
    assert kw.query_keywords("Steve Nunn was born in Glasgow .") == []
    assert len(calls) == 2 and kw.parse_failures == 1
