"""Load the local LAMA-TREx fact-tracing benchmark and check its ground truth (`specs/fasttrack.md` §6).

Statistics are computed at load time (the README's line is stale). Both datasets carry
`info.license = "cc-by-nc-4.0"`, which the tracer copies into the provenance of every trace.

Usage:

```python
from hf_datavalue.fasttrack.evaluation.data import dataset_statistics, load_lama_trex

corpus, queries = load_lama_trex("../shared/data/lama_trex_fact_tracing")
dataset_statistics(corpus, queries)["proponents_per_query_mean"]
```
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import EmptyDatasetError, LabelError, MissingColumnError

__all__ = ["LAMA_TREX_LICENSE", "dataset_statistics", "load_lama_trex", "proponent_rows"]

LAMA_TREX_LICENSE = "cc-by-nc-4.0"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        return [json.loads(line) for line in fh if line.strip()]


def load_lama_trex(path: str | os.PathLike[str], check: bool = True) -> tuple[Any, Any]:
    """`(corpus, queries)` as `datasets.Dataset`s; `check` asserts proponents == corpus facts containing the fact."""
    from datasets import Dataset, DatasetInfo

    root = Path(path)
    if not (root / "corpus.jsonl.gz").is_file() or not (root / "queries.jsonl.gz").is_file():
        raise EmptyDatasetError(f"{root} must hold corpus.jsonl.gz and queries.jsonl.gz")

    def info() -> Any:
        return DatasetInfo(license=LAMA_TREX_LICENSE, description="LAMA T-REx fact tracing (non-commercial use only)")

    corpus = Dataset.from_list(_read_jsonl(root / "corpus.jsonl.gz"), info=info())
    queries = Dataset.from_list(_read_jsonl(root / "queries.jsonl.gz"), info=info())
    if check:
        fact_docs: dict[str, set[int]] = {}
        for doc, facts in zip(corpus["doc_id"], corpus["facts"]):
            for f in facts:
                fact_docs.setdefault(f, set()).add(int(doc))
        for qid, fact, props in zip(queries["query_id"], queries["fact_id"], queries["proponent_doc_ids"]):
            if {int(p) for p in props} != fact_docs.get(fact, set()):
                raise LabelError(f"query {qid}: proponent_doc_ids differ from the corpus rows annotated with {fact}")
    return corpus, queries


def proponent_rows(
    queries: Any, corpus: Any, proponent_column: str = "proponent_doc_ids", doc_id_column: str | None = "doc_id"
) -> list[set[int]]:
    """Per query, its proponents as corpus row positions (`row_idx`)."""
    if proponent_column not in queries.column_names:
        raise MissingColumnError("queries", proponent_column, queries.column_names)
    if doc_id_column and doc_id_column in corpus.column_names:
        pos = {str(d): i for i, d in enumerate(corpus[doc_id_column])}
    else:
        pos = {str(i): i for i in range(len(corpus))}
    return [{pos[str(p)] for p in props if str(p) in pos} for props in queries[proponent_column]]


def dataset_statistics(corpus: Any, queries: Any) -> dict[str, Any]:
    """Counts computed from the files (never hard-coded)."""
    n_props = np.asarray([len(p) for p in queries["proponent_doc_ids"]])
    supporting = set().union(*[set(p) for p in queries["proponent_doc_ids"]]) if len(queries) else set()
    prefixes = list(queries["query_prefix"]) if "query_prefix" in queries.column_names else []
    return {
        "n_queries": len(queries),
        "n_corpus": len(corpus),
        "n_relations": len(set(queries["predicate_id"])) if "predicate_id" in queries.column_names else None,
        "proponents_per_query_mean": float(n_props.mean()),
        "proponents_per_query_median": float(np.median(n_props)),
        "proponents_per_query_max": int(n_props.max()),
        "supporting_sentences": len(supporting),
        "queries_without_prefix": int(sum(p is None for p in prefixes)),
    }
