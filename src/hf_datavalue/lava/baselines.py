"""Baselines LAVA is measured against.

Usage:

```python
import numpy as np
from hf_datavalue.lava.baselines import knn_label_disagreement

x, y = np.random.default_rng(0).normal(size=(50, 4)), np.arange(50) % 2
scores = knn_label_disagreement(x, y, x[:20], y[:20], k=5)  # higher = more suspicious
```
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import ConfigError, ShapeMismatchError

__all__ = ["knn_label_disagreement"]


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
    xt = torch.as_tensor(train_x, dtype=torch.float32)
    xv = torch.as_tensor(valid_x, dtype=torch.float32)
    yv = torch.as_tensor(np.asarray(valid_y))
    yt = torch.as_tensor(np.asarray(train_y))
    v_sq = (xv * xv).sum(1)
    out = np.empty(len(xt), dtype=np.float64)
    for s in range(0, len(xt), block_size):
        block = xt[s : s + block_size]
        d = (block * block).sum(1)[:, None] + v_sq[None, :] - 2 * block @ xv.T
        nearest = d.topk(k, dim=1, largest=False).indices
        out[s : s + block_size] = (yv[nearest] != yt[s : s + block_size, None]).double().mean(1).numpy()
    return out
