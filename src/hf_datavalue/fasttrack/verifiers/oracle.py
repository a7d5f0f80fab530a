"""The oracle verifier: answers from ground-truth annotations, to measure stage-1 retrieval in isolation.

With it, end-to-end precision is 1 and recall equals the fraction of proponents inside the retrieved clusters.

Usage:

```python
from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier

oracle = OracleVerifier.from_queries(queries, corpus, text_column="text", statement_column="statement")
oracle.verify(queries[0]["statement"], [corpus[i]["text"] for i in range(5)])
```
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from ...core.errors import EmptyDatasetError, MissingColumnError
from .base import Verifier

__all__ = ["OracleVerifier"]


class OracleVerifier(Verifier):
    """A passage supports a statement iff it is one of the statement's annotated proponent texts.

    Args:
        truth (`Mapping[str, Collection[str]]`): statement -> texts of its proponents.
    """

    name: ClassVar[str] = "oracle"

    def __init__(self, truth: Mapping[str, Collection[str]] | None = None) -> None:
        super().__init__()
        if truth is None:
            raise EmptyDatasetError(
                "the oracle verifier needs ground truth: pass truth={statement: proponent texts} or build it with "
                "OracleVerifier.from_queries(queries, corpus) (queries need a 'proponent_doc_ids' column)"
            )
        self.truth: dict[str, frozenset[str]] = {str(k): frozenset(map(str, v)) for k, v in truth.items()}

    @classmethod
    def from_queries(
        cls,
        queries: Any,
        corpus: Any,
        *,
        text_column: str = "text",
        statement_column: str = "statement",
        proponent_column: str = "proponent_doc_ids",
        doc_id_column: str | None = "doc_id",
    ) -> OracleVerifier:
        """Ground truth from a queries table with proponent ids and the corpus they point into.

        `proponent_column` holds corpus `doc_id_column` values, or corpus row positions when `doc_id_column` is
        `None` or absent from the corpus.
        """
        for what, table, col in (
            ("queries", queries, statement_column),
            ("queries", queries, proponent_column),
            ("corpus", corpus, text_column),
        ):
            if col not in table.column_names:
                raise MissingColumnError(what, col, table.column_names)
        texts = list(corpus[text_column])
        if doc_id_column and doc_id_column in corpus.column_names:
            position = {str(d): i for i, d in enumerate(corpus[doc_id_column])}
        else:
            position = {str(i): i for i in range(len(texts))}
        truth: dict[str, set[str]] = {}
        for statement, props in zip(queries[statement_column], queries[proponent_column]):
            bucket = truth.setdefault(str(statement), set())
            for p in props or []:
                if str(p) in position:
                    bucket.add(texts[position[str(p)]])
        return cls(truth)

    def verify(self, statement: str, passages: Sequence[str]) -> list[bool]:
        start = time.perf_counter()
        gold = self.truth.get(str(statement), frozenset())
        out = [str(p) in gold for p in passages]
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - start
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "n_statements": len(self.truth)}
