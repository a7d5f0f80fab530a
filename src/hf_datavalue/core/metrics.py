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

from .errors import NonFiniteError, ShapeMismatchError

__all__ = ["auroc", "precision_at_k", "recall_at_k"]


def _check(scores: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    p = np.asarray(positives, dtype=bool)
    if s.shape != p.shape:
        raise ShapeMismatchError(f"scores have shape {s.shape} but labels have shape {p.shape}")
    return s, p


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve of `scores` (higher = more likely positive; scikit-learn's, ties count one half)."""
    from sklearn.metrics import roc_auc_score

    s, p = _check(scores, positives)
    if p.all() or not p.any():
        raise ShapeMismatchError("AUROC needs at least one positive and one negative")
    if not np.isfinite(s).all():
        raise NonFiniteError("AUROC scores hold NaN or infinite values")
    return float(roc_auc_score(p, s))


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
