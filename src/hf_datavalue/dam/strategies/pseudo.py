"""Pseudo-samples of a seller from its public summary (`specs/dam.md` §8; a library heuristic, not from DAM).

Five revealed rows are too few for optimal transport. A pseudo-sample of size `s` holds the 5 sample rows plus
`s - 5` draws from the product of the per-feature 10-bin histograms (uniform inside the bin). Labels of the drawn
rows come from an ordinal logistic-style rule: rows are scored by `z = (x - mean) . label_correlation` and cut
into classes (in class-id order, since the correlation is with the integer label) at quantiles that reproduce
the seller's class shares read off the label histogram. It ignores cross-feature dependence.

Usage:

```python
x, y = pseudo_sample(view.seller(3), size=200, classes=[0, 1, 2, 3], rng=np.random.default_rng(0))
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.mixture import largest_remainder
from ..marketplace import SellerInfo

__all__ = ["pseudo_sample"]


def pseudo_sample(
    seller: SellerInfo, size: int, classes: Sequence[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`(features float32 (size, d), labels int64 (size,))`: the sample rows plus histogram draws."""
    xs = seller.sample_features.astype(np.float32)
    ys = seller.sample_labels.astype(np.int64)
    m = size - len(ys)
    if m <= 0:
        return xs[:size], ys[:size]
    counts = seller.summary.hist_counts[:-1].astype(np.float64)  # feature columns (the label is last)
    edges = seller.summary.hist_edges[:-1]
    probs = counts / counts.sum(1, keepdims=True)
    cum = np.cumsum(probs, axis=1)
    u = rng.random((m, counts.shape[0]))
    bins = np.minimum((u[:, :, None] > cum[None, :, :]).sum(-1), counts.shape[1] - 1)
    cols = np.arange(counts.shape[0])[None, :]
    lo, hi = edges[cols, bins], edges[cols, bins + 1]
    x = lo + rng.random((m, counts.shape[0])) * (hi - lo)
    mids = 0.5 * (edges[:, :-1] + edges[:, 1:])
    mean = (probs * mids).sum(1)
    z = (x - mean) @ seller.summary.label_correlation
    cls = np.asarray(sorted(int(c) for c in classes), dtype=np.int64)
    shares = seller.summary.label_distribution(cls.tolist())
    if shares.sum() <= 0:
        shares = np.ones(len(cls))
    quota = largest_remainder(shares.tolist(), m)
    y = np.repeat(cls, quota)[np.argsort(np.argsort(z, kind="stable"), kind="stable")]
    return np.concatenate([xs, x.astype(np.float32)]), np.concatenate([ys, y])
