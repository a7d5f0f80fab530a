"""The LLM verifiers inside the FastTrack tracer: cost accounting, token counts, parse failures, the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer, ResponseCache
from hf_datavalue.fasttrack.verifiers.causal_lm import CausalLMVerifier
from hf_datavalue.fasttrack.verifiers.openai_endpoint import OpenAIVerifier

from .tiny_lm import random_lm, scripted_lm, tiny_tokenizer

CONFIG = FastTrackConfig(embedding_column="emb", tau=6, branching=2, batch_size=4, max_clusters=3)


@pytest.fixture(scope="module")
def built():
    rng = np.random.default_rng(0)
    texts = [f"Sentence number {i} about Paris and France." for i in range(23)]
    corpus = Dataset.from_dict({"text": texts, "emb": rng.normal(size=(23, 8)).astype(np.float32).tolist()})
    queries = Dataset.from_dict({"query_id": ["a", "b"], "statement": ["Paris is in France.", "Rome is in Italy."]})
    index = FastTrackIndex.build(corpus, CONFIG, progress=False)
    clusters = {"a": [0, 1], "b": [int(index.labels[-1])]}  # oracle retrieval: fixed clusters per query
    return corpus, queries, index, clusters


def expected_batches(index, clusters: list[int]) -> int:
    return sum(math.ceil(len(index.members(c)) / CONFIG.batch_size) for c in clusters)


def trace(built, verifier, cache=None):
    corpus, queries, index, clusters = built
    tracer = FastTrackTracer(
        index, corpus, verifier, cache=cache if cache is not None else ResponseCache(), progress=False
    )
    return tracer.trace(queries, cluster_override=clusters)


def check_first_passage_runs(built, result, tokens_per_call: int) -> None:
    _, _, index, clusters = built
    stats = {row["query_id"]: row for row in result.query_stats.to_pylist()}
    for qid, chosen in clusters.items():
        batches = expected_batches(index, chosen)
        row = stats[qid]
        assert row["batches"] == row["calls"] == batches  # one call per batch of B passages
        assert row["n_verified"] == batches  # the scripted model accepts passage 1 of every batch
        assert row["completion_tokens"] == tokens_per_call * batches
        assert row["prompt_tokens"] > 50 * batches and row["parse_failures"] == row["retries"] == 0


def test_causal_lm_verifier_in_the_tracer(built):
    tok = tiny_tokenizer()
    verifier = CausalLMVerifier(scripted_lm(tok, "[1]"), tok)
    cache = ResponseCache()
    result = trace(built, verifier, cache)
    check_first_passage_runs(built, result, tokens_per_call=4)  # "[", "1", "]", "</s>"
    assert result.provenance.extra["verifier"]["name"] == "causal-lm"
    again = trace(built, verifier, cache)  # same prompts, same verifier description: all from the cache
    assert again.stats()["total_calls"] == 0 and again.returned_sets() == result.returned_sets()


def test_garbage_answers_are_counted_per_query_and_not_cached(built):
    tok = tiny_tokenizer()
    verifier = CausalLMVerifier(random_lm(tok), tok, max_new_tokens=4)
    cache = ResponseCache()
    result = trace(built, verifier, cache)
    _, _, index, clusters = built
    for row in result.query_stats.to_pylist():
        batches = expected_batches(index, clusters[row["query_id"]])
        assert row["parse_failures"] == row["retries"] == batches and row["calls"] == 2 * batches
        assert row["n_verified"] == 0
    assert len(cache) == 0  # failed batches are asked again by a rerun


def test_openai_verifier_in_the_tracer(built, server, models):
    verifier = OpenAIVerifier(server, str(models["first"]), timeout=120)
    result = trace(built, verifier)
    check_first_passage_runs(built, result, tokens_per_call=4)
    assert result.provenance.extra["verifier"]["base_url"] == server
