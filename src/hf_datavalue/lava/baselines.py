"""The simple baselines LAVA is measured against (both: higher = more likely mislabelled).

- `knn_label_disagreement`: share of a row's nearest validation rows with another label.
- `probe_loss_scores`: cross-entropy of the row's given label under the validation-fitted linear probe (the
  same probe LAVA's default `probe_logits` features come from), with no OT at all.

Usage:

```python
import numpy as np
from hf_datavalue.lava.baselines import knn_label_disagreement, probe_loss_scores

x, y = np.random.default_rng(0).normal(size=(50, 4)), np.arange(50) % 2
scores = knn_label_disagreement(x, y, x[:20], y[:20], k=5)  # higher = more suspicious
losses = probe_loss_scores(x, y, x[:20], y[:20], l2=0.1)  # higher = more suspicious
```
"""

from __future__ import annotations

import numpy as np

from ..core.errors import ConfigError, ShapeMismatchError
from ..core.probe import LinearProbe

__all__ = ["knn_label_disagreement", "probe_loss_scores"]


def probe_loss_scores(
    train_x: np.ndarray,
    train_y: np.ndarray,
    valid_x: np.ndarray,
    valid_y: np.ndarray,
    l2: float = 0.1,
    n_classes: int | None = None,
) -> np.ndarray:
    """Cross-entropy of each training row's given label under a linear probe fitted on the validation set.

    Higher = more likely mislabelled. Labels are int class ids in `[0, n_classes)` on both sides (default
    `n_classes`: one more than the largest id seen). The probe is [`~hf_datavalue.core.probe.LinearProbe`]
    (multinomial logistic regression on standardised features, `mean CE + l2 * ||W||^2`).

    Raises:
        ShapeMismatchError: feature widths differ, or labels do not match the rows.
    """
    train_x, valid_x = np.asarray(train_x), np.asarray(valid_x)
    if train_x.ndim != 2 or valid_x.ndim != 2 or train_x.shape[1] != valid_x.shape[1]:
        raise ShapeMismatchError(f"feature shapes do not match: {train_x.shape} vs {valid_x.shape}")
    train_y, valid_y = np.asarray(train_y).astype(np.int64), np.asarray(valid_y).astype(np.int64)
    k = int(n_classes) if n_classes is not None else int(max(train_y.max(), valid_y.max())) + 1
    probe = LinearProbe(k, l2=l2).fit(valid_x, valid_y)
    return probe.label_loss(train_x, train_y)


def knn_label_disagreement(
    train_x: np.ndarray,
    train_y: np.ndarray,
    valid_x: np.ndarray,
    valid_y: np.ndarray,
    k: int = 10,
    block_size: int = 4096,
) -> np.ndarray:
    """Share of a training row's `k` nearest validation rows whose label differs from the row's label.

    Higher = more likely mislabelled. Euclidean distance on the given features, computed in blocks.
    """
    if train_x.shape[1] != valid_x.shape[1]:
        raise ShapeMismatchError(f"feature widths differ: {train_x.shape[1]} vs {valid_x.shape[1]}")
    if not 0 < k <= len(valid_x):
        raise ConfigError(f"k must lie in [1, {len(valid_x)}], got {k}")
    from sklearn.neighbors import NearestNeighbors

    # scikit-learn's exact search (it picks a tree or brute force); `block_size` rows are queried at a time
    index = NearestNeighbors(n_neighbors=k).fit(np.asarray(valid_x, dtype=np.float32))
    yv, yt = np.asarray(valid_y), np.asarray(train_y)
    out = np.empty(len(train_x), dtype=np.float64)
    for s in range(0, len(train_x), block_size):
        nearest = index.kneighbors(np.asarray(train_x[s : s + block_size], dtype=np.float32), return_distance=False)
        out[s : s + block_size] = (yv[nearest] != yt[s : s + block_size, None]).mean(1)
    return out
