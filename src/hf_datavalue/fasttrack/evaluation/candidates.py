"""Candidate lists of the FTRACE ranking protocol (`specs/fasttrack.md` §5-6), built once with seed 0.

Per query: every proponent, up to 100 same-answer distractors (corpus rows with a fact whose object is the
query's object; fallback: rows whose masked answer equals the answer string) and 100 random other rows.

Usage:

```python
from hf_datavalue.fasttrack.evaluation.candidates import build_candidate_sets

cands = build_candidate_sets(queries, corpus, seed=0)   # Dataset: query_id, row_idx, doc_id, is_proponent
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.errors import MissingColumnError
from ...core.rows import ROW_KEY
from .data import proponent_rows

__all__ = ["build_candidate_sets"]


def build_candidate_sets(
    queries: Any, corpus: Any, n_distractors: int = 100, n_random: int = 100, seed: int = 0
) -> Any:
    """A `datasets.Dataset` with `query_id`, `row_idx`, `doc_id`, `is_proponent` (rows sorted per query)."""
    from datasets import Dataset

    for col in ("query_id", "obj_uri", "obj_label", "proponent_doc_ids"):
        if col not in queries.column_names:
            raise MissingColumnError("queries", col, queries.column_names)
    for col in ("doc_id", "facts"):
        if col not in corpus.column_names:
            raise MissingColumnError("corpus", col, corpus.column_names)
    n = len(corpus)
    by_object: dict[str, set[int]] = {}
    for i, facts in enumerate(corpus["facts"]):
        for f in facts:
            by_object.setdefault(f.split("|")[-1], set()).add(i)
    by_answer: dict[str, set[int]] = {}
    if "masked_answer" in corpus.column_names:
        for i, a in enumerate(corpus["masked_answer"]):
            by_answer.setdefault(str(a).lower(), set()).add(i)
    doc_ids = list(corpus["doc_id"])
    props = proponent_rows(queries, corpus)
    out: dict[str, list[Any]] = {"query_id": [], ROW_KEY: [], "doc_id": [], "is_proponent": []}
    for q, (qid, obj, label) in enumerate(zip(queries["query_id"], queries["obj_uri"], queries["obj_label"])):
        rng = np.random.default_rng([seed, q])
        prop = props[q]
        pool = sorted(by_object.get(str(obj), set()) - prop) or sorted(by_answer.get(str(label).lower(), set()) - prop)
        distract = set(rng.permutation(pool)[:n_distractors].tolist()) if pool else set()
        taken = prop | distract
        rand: set[int] = set()
        while len(rand) < min(n_random, n - len(taken)):
            draw = rng.integers(0, n, size=2 * n_random)
            rand |= {int(d) for d in draw if int(d) not in taken}
        rand = set(sorted(rand)[:n_random]) if len(rand) > n_random else rand
        for r in sorted(taken | rand):
            out["query_id"].append(str(qid))
            out[ROW_KEY].append(int(r))
            out["doc_id"].append(doc_ids[r])
            out["is_proponent"].append(r in prop)
    return Dataset.from_dict(out)
