"""The synthetic robustness set of `specs/fasttrack.md` §7.8: paraphrases against conflicting look-alikes.

Templated facts about invented people (seeded names, real places, languages and professions). Every fact has a
canonical query statement (`"Mara Okonkwo was born in Lisbon ."`) and a corpus that holds, per fact:

* **paraphrases** (`kind="paraphrase"`, the proponents): other wordings of the same fact, most of them sharing
  few surface tokens with the statement (`"Lisbon is the birthplace of Mara Okonkwo."`);
* **conflicts** (`kind="conflict"`): the same wording with another object (`"Mara Okonkwo was born in Oslo."`):
  a false claim that shares every token but the answer;
* **negations** (`kind="negated"`): the statement negated (`"Mara Okonkwo was not born in Lisbon."`): it holds
  every token of the statement;
* **other relation** (`kind="other_relation"`): a true fact about the same subject and object under another
  relation (`"Mara Okonkwo died in Lisbon."`);
* **other subject** (`kind="other_subject"`): the same relation and object for another person.

BM25 ranks the look-alikes at or above the paraphrases, so a verifier that reads the statement must beat BM25
top-k on precision (§7.8). The world is consistent: no corpus row states a query fact unless it is one of that
fact's paraphrases, which are exactly its `proponent_doc_ids`.

Usage:

```python
from hf_datavalue.fasttrack.evaluation.robustness import build_robustness_set

corpus, queries = build_robustness_set(n_facts=60, seed=0)
queries[0]["statement"], queries[0]["proponent_doc_ids"], queries[0]["conflict_doc_ids"]
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.errors import ConfigError

__all__ = ["ROBUSTNESS_KINDS", "ROBUSTNESS_RELATIONS", "build_robustness_set"]

_FIRST = [
    "Mara",
    "Tomas",
    "Ilse",
    "Reuben",
    "Anouk",
    "Kasimir",
    "Odile",
    "Bertram",
    "Liesel",
    "Casimir",
    "Yara",
    "Emeric",
    "Solveig",
    "Dorian",
    "Ines",
    "Leopold",
    "Wanda",
    "Ambrose",
    "Zofia",
    "Lucian",
    "Henrike",
    "Matthias",
    "Rosalind",
    "Ignatius",
    "Petra",
    "Osric",
    "Selma",
    "Florian",
    "Greta",
    "Anselm",
]
_LAST = [
    "Okonkwo",
    "Varga",
    "Lindqvist",
    "Moreau",
    "Castellanos",
    "Hakimi",
    "Brandt",
    "Sorensen",
    "Petrakis",
    "Navarro",
    "Kowalczyk",
    "Ferreira",
    "Albrecht",
    "Delacroix",
    "Marchetti",
    "Oyelaran",
    "Halvorsen",
    "Szabo",
    "Quintero",
    "Ivanovic",
    "Bergstrom",
    "Falkenrath",
    "Takahara",
    "Montague",
    "Ravensworth",
    "Adeyemi",
    "Lorenzetti",
    "Vasquez",
    "Holmqvist",
    "Dragomir",
]
_CITIES = [
    "Lisbon",
    "Oslo",
    "Krakow",
    "Bordeaux",
    "Valencia",
    "Antwerp",
    "Leipzig",
    "Porto",
    "Gdansk",
    "Turin",
    "Seville",
    "Bergen",
    "Lyon",
    "Graz",
    "Utrecht",
    "Malmo",
    "Brno",
    "Genoa",
    "Toulouse",
    "Aarhus",
]
_LANGUAGES = [
    "Portuguese",
    "Norwegian",
    "Polish",
    "French",
    "Spanish",
    "Dutch",
    "German",
    "Italian",
    "Swedish",
    "Czech",
    "Danish",
    "Finnish",
]
_PROFESSIONS = [
    "architect",
    "surgeon",
    "violinist",
    "journalist",
    "botanist",
    "sculptor",
    "economist",
    "pilot",
    "chemist",
    "novelist",
]

# relation -> (statement template, paraphrase templates, negated template, object pool)
ROBUSTNESS_RELATIONS: dict[str, tuple[str, tuple[str, ...], str, tuple[str, ...]]] = {
    "born_in": (
        "{s} was born in {o} .",
        (
            "{o} is the birthplace of {s}.",
            "{s} (born 12 March 1961 in {o}) is a retired teacher.",
            "Born and raised in {o}, {s} later moved abroad.",
            "The place of birth of {s} is {o}.",
        ),
        "{s} was not born in {o}.",
        tuple(_CITIES),
    ),
    "died_in": (
        "{s} died in {o} .",
        (
            "{s} passed away in {o} after a long illness.",
            "{o} is where {s} spent the last days and died.",
            "The place of death of {s} was {o}.",
            "{s} (1901 - 1977, died in {o}) was a painter.",
        ),
        "{s} did not die in {o}.",
        tuple(_CITIES),
    ),
    "native_language": (
        "The native language of {s} is {o} .",
        (
            "{s} is a native speaker of {o}.",
            "{s} grew up speaking {o} at home.",
            "{o} is the mother tongue of {s}.",
            "Raised in a {o}-speaking family, {s} learned it as a first language.",
        ),
        "The native language of {s} is not {o}.",
        tuple(_LANGUAGES),
    ),
    "profession": (
        "{s} is a {o} by profession .",
        (
            "{s} works as a {o}.",
            "By profession, {s} is a {o}.",
            "{s} earned a living as a {o} for three decades.",
            "The {o} {s} is known for careful work.",
        ),
        "{s} is not a {o} by profession.",
        tuple(_PROFESSIONS),
    ),
}
_PAIRED = {"born_in": "died_in", "died_in": "born_in"}  # other-relation look-alikes share subject and object
ROBUSTNESS_KINDS = ("paraphrase", "conflict", "negated", "other_relation", "other_subject")


def build_robustness_set(
    n_facts: int = 60, n_paraphrases: int = 2, n_conflicts: int = 2, seed: int = 0
) -> tuple[Any, Any]:
    """`(corpus, queries)` as `datasets.Dataset`s (see the module docstring).

    Args:
        n_facts (`int`, *optional*, defaults to 60): query facts, spread round-robin over the relations.
        n_paraphrases (`int`, *optional*, defaults to 2): supporting rewordings per fact (<= 4).
        n_conflicts (`int`, *optional*, defaults to 2): answer-swapped look-alikes per fact (one reuses the
            statement's wording, the others a paraphrase's).
        seed (`int`, *optional*, defaults to 0): names, objects, template choices and row order.

    Returns:
        corpus (`doc_id`, `text`, `kind`, `fact_id`, `about_fact`) and queries (`query_id`, `fact_id`,
        `predicate_id`, `statement`, `sub_label`, `obj_label`, `proponent_doc_ids`, `conflict_doc_ids`: the
        conflict and negated rows of the same subject and relation).
    """
    from datasets import Dataset

    if n_facts < 1 or not 1 <= n_paraphrases <= 4 or n_conflicts < 0:
        raise ConfigError("n_facts >= 1, 1 <= n_paraphrases <= 4 and n_conflicts >= 0 are required")
    if n_facts > len(_FIRST) * len(_LAST):
        raise ConfigError(f"at most {len(_FIRST) * len(_LAST)} facts (distinct invented names)")
    rng = np.random.default_rng(seed)
    relations = sorted(ROBUSTNESS_RELATIONS)
    names = [f"{f} {last}" for f in _FIRST for last in _LAST]
    people = [names[i] for i in rng.permutation(len(names))[: 2 * n_facts]]
    rows: list[dict[str, Any]] = []
    facts: list[tuple[str, str, str, str]] = []

    def add(text: str, kind: str, fact_id: str, about: str) -> int:
        rows.append({"text": text, "kind": kind, "fact_id": fact_id, "about_fact": about})
        return len(rows) - 1

    truth: dict[str, str] = {}  # (relation|subject) -> object, so the world stays consistent
    for i in range(n_facts):
        rel = relations[i % len(relations)]
        subject = people[i]
        pool = ROBUSTNESS_RELATIONS[rel][3]
        obj = str(pool[int(rng.integers(len(pool)))])
        truth[f"{rel}|{subject}"] = obj
        facts.append((f"{rel}|{subject}|{obj}", rel, subject, obj))
    queries: list[dict[str, Any]] = []
    for fact_id, rel, subject, obj in facts:
        statement, paraphrases, negated, pool = ROBUSTNESS_RELATIONS[rel]
        picks = rng.permutation(len(paraphrases))[:n_paraphrases].tolist()
        props = [add(paraphrases[k].format(s=subject, o=obj), "paraphrase", fact_id, fact_id) for k in picks]
        others = [str(o) for o in pool if o != obj]
        conflicts = []
        for c in range(n_conflicts):
            wrong = others[int(rng.integers(len(others)))]
            template = statement.rstrip(" .") + "." if c == 0 else paraphrases[picks[c % len(picks)]]
            conflicts.append(add(template.format(s=subject, o=wrong), "conflict", "", fact_id))
        conflicts.append(add(negated.format(s=subject, o=obj), "negated", "", fact_id))
        if rel in _PAIRED:
            other_rel = _PAIRED[rel]
            key = f"{other_rel}|{subject}"
            if key not in truth:  # a true fact of another relation about the same subject and object
                truth[key] = obj
                add(ROBUSTNESS_RELATIONS[other_rel][1][0].format(s=subject, o=obj), "other_relation", "", fact_id)
        stranger = people[n_facts + len(queries)]
        add(paraphrases[picks[0]].format(s=stranger, o=obj), "other_subject", f"{rel}|{stranger}|{obj}", fact_id)
        queries.append(
            {
                "query_id": f"robust-{len(queries):04d}",
                "fact_id": fact_id,
                "predicate_id": rel,
                "statement": statement.format(s=subject, o=obj),
                "sub_label": subject,
                "obj_label": obj,
                "proponent_doc_ids": props,
                "conflict_doc_ids": conflicts,
            }
        )
    order = rng.permutation(len(rows))
    new_id = {int(old): new for new, old in enumerate(order.tolist())}
    corpus_rows = [{"doc_id": new, **rows[int(old)]} for new, old in enumerate(order.tolist())]
    for q in queries:
        q["proponent_doc_ids"] = sorted(new_id[d] for d in q["proponent_doc_ids"])
        q["conflict_doc_ids"] = sorted(new_id[d] for d in q["conflict_doc_ids"])
    return Dataset.from_list(corpus_rows), Dataset.from_list(queries)
