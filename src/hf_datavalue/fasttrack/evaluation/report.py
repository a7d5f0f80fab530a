"""The stage-wise report of a FastTrack run (`specs/fasttrack.md` §7.4).

Usage:

```python
from hf_datavalue.fasttrack.evaluation.report import stagewise_report

report = stagewise_report(result, proponents_by_query, n_corpus=len(corpus))
report["stage1_recall_micro"], report["end_to_end"]["macro_f1"], report["calls_per_query"]
```
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from .metrics import set_metrics

__all__ = ["stagewise_report"]


def stagewise_report(
    result: Any, proponents: Mapping[str, Collection[int]], n_corpus: int | None = None, query_ids: Any = None
) -> dict[str, Any]:
    """Stage-1 recall, candidates per query, verifier P/R on candidates, end-to-end P/R/F1, and costs.

    Args:
        result ([`FastTrackResult`]): a trace.
        proponents (`Mapping[str, Collection[int]]`): query_id -> proponent row positions.
        n_corpus (`int`, *optional*): corpus size, for the fraction of the corpus verified per query.
        query_ids (*optional*): restrict the report to these queries.
    """
    cand = result.candidate_sets()
    ret = result.returned_sets()
    qids = [str(q) for q in (query_ids if query_ids is not None else result.query_ids)]
    props = [set(proponents[q]) for q in qids]
    cands = [cand.get(q, set()) for q in qids]
    rets = [ret.get(q, set()) for q in qids]
    inside = [len(c & p) for c, p in zip(cands, props)]
    n_prop = sum(len(p) for p in props)
    tp = sum(len(r & p) for r, p in zip(rets, props))
    n_ret = sum(len(r) for r in rets)
    stats = result.query_stats.to_pydict()
    keep = {q: i for i, q in enumerate(stats["query_id"])}
    rows = [keep[q] for q in qids if q in keep]

    def mean(col: str) -> float:
        return float(np.mean([stats[col][i] for i in rows])) if rows else 0.0

    n_cand = np.asarray([len(c) for c in cands], dtype=np.float64)
    out: dict[str, Any] = {
        "n_queries": len(qids),
        "stage1_recall_micro": sum(inside) / n_prop if n_prop else 0.0,
        "stage1_recall_macro": float(np.mean([i / len(p) for i, p in zip(inside, props) if p])) if props else 0.0,
        "candidates_per_query_mean": float(n_cand.mean()),
        "candidates_per_query_max": float(n_cand.max()) if len(n_cand) else 0.0,
        "verifier_precision": tp / n_ret if n_ret else 0.0,
        "verifier_recall_on_candidates": tp / sum(inside) if sum(inside) else 0.0,
        "end_to_end": set_metrics(rets, props),
        "calls_per_query": mean("calls"),
        "batches_per_query": mean("batches"),
        "prompt_tokens_per_query": mean("prompt_tokens"),
        "seconds_per_query": mean("seconds"),
        "parse_failures": int(sum(stats["parse_failures"][i] for i in rows)),
        "truncated": int(sum(stats["truncated"][i] for i in rows)),
    }
    if n_corpus:
        frac = n_cand / n_corpus
        out["corpus_fraction_verified_mean"] = float(frac.mean())
        out["corpus_fraction_verified_max"] = float(frac.max()) if len(frac) else 0.0
    return out
