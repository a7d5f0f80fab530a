"""The §7.8 synthetic robustness set: deterministic, consistent, and full of conflicting look-alikes."""

from __future__ import annotations

import pytest

from hf_datavalue.core.errors import ConfigError
from hf_datavalue.fasttrack.evaluation import BM25Ranker
from hf_datavalue.fasttrack.evaluation.robustness import ROBUSTNESS_KINDS, build_robustness_set


@pytest.fixture(scope="module")
def robust():
    return build_robustness_set(n_facts=24, seed=0)


def test_deterministic_for_a_seed(robust):
    corpus, queries = robust
    again_c, again_q = build_robustness_set(n_facts=24, seed=0)
    assert corpus.to_list() == again_c.to_list() and queries.to_list() == again_q.to_list()
    other_c, _ = build_robustness_set(n_facts=24, seed=1)
    assert other_c["text"] != corpus["text"]
    assert corpus["doc_id"] == list(range(len(corpus)))


def test_proponents_are_paraphrases_and_conflicts_share_the_subject(robust):
    corpus, queries = robust
    kinds, texts, about = corpus["kind"], corpus["text"], corpus["about_fact"]
    assert set(kinds) == set(ROBUSTNESS_KINDS)
    for q in queries:
        props, conflicts = set(q["proponent_doc_ids"]), set(q["conflict_doc_ids"])
        assert props and not props & conflicts
        assert all(kinds[d] == "paraphrase" and about[d] == q["fact_id"] for d in props)
        assert all(q["sub_label"] in texts[d] and q["obj_label"] in texts[d] for d in props)
        assert all(q["sub_label"] in texts[d] for d in conflicts)
        swapped = [d for d in conflicts if kinds[d] == "conflict"]
        negated = [d for d in conflicts if kinds[d] == "negated"]
        assert swapped and len(negated) == 1
        assert all(q["obj_label"] not in texts[d] for d in swapped)  # the answer is replaced
        # one conflict keeps the statement's wording exactly, with only the answer changed
        words = set(q["statement"].replace(" .", "").split())
        assert any(words - set(texts[d].rstrip(".").split()) == {q["obj_label"]} for d in swapped)
        assert all(len(set(texts[d].rstrip(".").split()) - words) >= 1 for d in swapped)
        assert q["obj_label"] in texts[negated[0]]
        # every paraphrase of this fact is a proponent; nothing else states it
        assert {d for d in range(len(corpus)) if kinds[d] == "paraphrase" and about[d] == q["fact_id"]} == props


def test_bm25_ranks_look_alikes_above_paraphrases(robust):
    """The set is hard for BM25: for most queries a non-proponent outranks some proponent."""
    corpus, queries = robust
    ids, _ = BM25Ranker(corpus["text"]).retrieve(queries["statement"], k=len(corpus))
    hard = 0
    for row, props in zip(ids, queries["proponent_doc_ids"]):
        ranks = {int(d): r for r, d in enumerate(row)}
        worst_prop = max(ranks[p] for p in props)
        hard += any(ranks[d] < worst_prop for d in ranks if d not in set(props))
    assert hard >= 0.75 * len(queries)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        build_robustness_set(n_facts=0)
    with pytest.raises(ConfigError):
        build_robustness_set(n_paraphrases=5)
