"""Fact-tracing metrics (`specs/fasttrack.md` §5): MRR, P@k, R@k for rankings; set P/R/F1 for returned sets.

* `MRR = mean_q 1 / rank_q` (rank of the first proponent in the ranked list; 0 when none is listed).
* `P@k = |top-k ∩ Prop_q| / k`, `R@k = |top-k ∩ Prop_q| / |Prop_q|`.
* Set metrics per query: `P = |S ∩ Prop| / |S|`, `R = |S ∩ Prop| / |Prop|`, F1 their harmonic mean; an empty
  returned set scores P = R = F1 = 0. Macro = mean over queries (primary), micro = pooled counts (secondary).

Usage:

```python
from hf_datavalue.fasttrack.evaluation.metrics import ranking_metrics, set_metrics

set_metrics([{1, 2}, set()], [{2}, {5}])["macro_f1"]   # (2/3 + 0) / 2
ranking_metrics([[3, 2, 9]], [{2}], ks=(1, 3))["mrr"]     # 0.5
```
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from ...core.errors import ShapeMismatchError

__all__ = ["DEFAULT_KS", "ranking_metrics", "set_metrics", "set_prf"]

DEFAULT_KS = (1, 3, 5, 10, 25)


def set_prf(returned: Collection[Any], proponents: Collection[Any]) -> tuple[float, float, float]:
    """Precision, recall and F1 of one returned set against the proponents (all 0 for an empty set)."""
    s, p = set(returned), set(proponents)
    hit = len(s & p)
    if not s or not p or hit == 0:
        return 0.0, 0.0, 0.0
    prec, rec = hit / len(s), hit / len(p)
    return prec, rec, 2 * prec * rec / (prec + rec)


def set_metrics(returned: Sequence[Collection[Any]], proponents: Sequence[Collection[Any]]) -> dict[str, float]:
    """Macro and micro set precision, recall and F1 over queries."""
    if len(returned) != len(proponents):
        raise ShapeMismatchError(f"{len(returned)} returned sets but {len(proponents)} proponent sets")
    if not returned:
        raise ShapeMismatchError("set metrics need at least one query")
    per = np.array([set_prf(s, p) for s, p in zip(returned, proponents)], dtype=np.float64)
    hits = sum(len(set(s) & set(p)) for s, p in zip(returned, proponents))
    n_ret = sum(len(set(s)) for s in returned)
    n_prop = sum(len(set(p)) for p in proponents)
    mp = hits / n_ret if n_ret else 0.0
    mr = hits / n_prop if n_prop else 0.0
    return {
        "macro_precision": float(per[:, 0].mean()),
        "macro_recall": float(per[:, 1].mean()),
        "macro_f1": float(per[:, 2].mean()),
        "micro_precision": mp,
        "micro_recall": mr,
        "micro_f1": 2 * mp * mr / (mp + mr) if mp + mr else 0.0,
        "mean_returned": n_ret / len(returned),
        "n_queries": float(len(returned)),
    }


def ranking_metrics(
    rankings: Sequence[Sequence[Any]], proponents: Sequence[Collection[Any]], ks: Iterable[int] = DEFAULT_KS
) -> dict[str, float]:
    """MRR and mean P@k / R@k of ranked candidate lists (best first)."""
    if len(rankings) != len(proponents):
        raise ShapeMismatchError(f"{len(rankings)} rankings but {len(proponents)} proponent sets")
    if not rankings:
        raise ShapeMismatchError("ranking metrics need at least one query")
    ks = tuple(int(k) for k in ks)
    rr, pk, rk = [], {k: [] for k in ks}, {k: [] for k in ks}  # type: ignore[var-annotated]
    for ranked, props in zip(rankings, proponents):
        prop = set(props)
        first = next((i for i, d in enumerate(ranked) if d in prop), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
        for k in ks:
            hit = len(set(ranked[:k]) & prop)
            pk[k].append(hit / k)
            rk[k].append(hit / len(prop) if prop else 0.0)
    out = {"mrr": float(np.mean(rr))}
    for k in ks:
        out[f"precision@{k}"] = float(np.mean(pk[k]))
        out[f"recall@{k}"] = float(np.mean(rk[k]))
    return out
