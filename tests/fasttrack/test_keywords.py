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
    assert {c for c, _ in hits} == {0, 2} and all(s >= 85 for _, s in hits)
    assert m.match(["Glasgow"], threshold=85, max_clusters=1) == [hits[0]]
    assert m.match(["Tokyo"], threshold=85) == []
    # ties broken by the given similarity
    assert m.match(["Glasgow"], 85, 5, tie_break=np.array([0.0, 0.0, 1.0]))[0][0] == 2


def test_fake_llm_keywording_is_reproducible_and_cached(lama_slice, tmp_path):
    corpus, queries = lama_slice
    cfg = FastTrackConfig(embedding_column="bow", tau=25, kmeans_backend="faiss")
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
