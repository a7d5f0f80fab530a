"""Detection metrics computed locally (no `evaluate.load`, which needs the Hub).

Usage:

```python
import numpy as np
from hf_datavalue.core.metrics import auroc, recall_at_k

scores, flipped = np.array([0.9, 0.1, 0.8, 0.2]), np.array([True, False, True, False])
auroc(scores, flipped), recall_at_k(scores, flipped, k=2)  # (1.0, 1.0)
```
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from .errors import ShapeMismatchError

__all__ = ["auroc", "precision_at_k", "recall_at_k"]


def _check(scores: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    p = np.asarray(positives, dtype=bool)
    if s.shape != p.shape:
        raise ShapeMismatchError(f"scores have shape {s.shape} but labels have shape {p.shape}")
    return s, p


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve of `scores` (higher = more likely positive); ties count one half."""
    s, p = _check(scores, positives)
    n_pos, n_neg = int(p.sum()), int((~p).sum())
    if n_pos == 0 or n_neg == 0:
        raise ShapeMismatchError("AUROC needs at least one positive and one negative")
    ranks = rankdata(s)
    return float((ranks[p].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def recall_at_k(scores: np.ndarray, positives: np.ndarray, k: int) -> float:
    """Share of all positives found among the `k` highest scores."""
    s, p = _check(scores, positives)
    top = np.argsort(-s, kind="stable")[:k]
    return float(p[top].sum() / max(int(p.sum()), 1))


def precision_at_k(scores: np.ndarray, positives: np.ndarray, k: int) -> float:
    """Share of positives among the `k` highest scores."""
    s, p = _check(scores, positives)
    top = np.argsort(-s, kind="stable")[:k]
    return float(p[top].mean())
