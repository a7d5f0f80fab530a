"""Optimal transport: the one OT path of hf_datavalue (used by LAVA, GOT-D, Projektor and DAM).

Conventions (see `specs/lava.md` §2). Entropic OT between weighted point clouds `(a, b)` with cost `C`,
regularised by `eps * KL(pi | a x b)`:

    OT_eps(a, b) = max_{f, g} <a, f> + <b, g> - eps * sum_ij a_i b_j (exp((f_i + g_j - C_ij) / eps) - 1)

[`sinkhorn`] returns the *dual potentials* `f` (source side, length N) and `g` (target side, length M) in
cost units, never POT's scaling vectors. `d OT / d a_i = f_i`, which is what LAVA's calibrated gradient and
GOT-D's scores are built on.

Costs are objects, so that a huge problem never materialises an N x M matrix:

* [`DenseCost`] wraps a given matrix;
* [`PointCloudCost`] computes `feature_weight * ||x_i - y_j||^2 (+ label_table[lx_i, ly_j])` block by block
  (the LAVA hybrid cost with a label table, or GOT-D's squared Euclidean cost without one).

The solver iterates in the log domain over row blocks. In ``mode="online"`` each block is recomputed every
iteration, in O((N + M) d + block) memory. In ``mode="dense"`` the cost is computed once and kept, and by
default the iterations run on a *stabilised kernel* (Schmitzer 2019, "absorption"): once per epsilon stage the
potentials are absorbed into `K_ij = exp((f_i + g_j - C_ij) / eps)`, and each iteration is then two
matrix-vector products instead of two log-sum-exp passes (several times faster on CPU and GPU). A log-domain
iteration re-stabilises the kernel whenever the scalings drift or underflow, so both modes give the same
potentials.

Usage:

```python
import torch
from hf_datavalue.core.ot import PointCloudCost, sinkhorn, calibrated_gradient

x, y = torch.randn(500, 8, dtype=torch.float64), torch.randn(200, 8, dtype=torch.float64)
result = sinkhorn(PointCloudCost(x, y, feature_weight=0.5), eps=0.1, tol=1e-9)
values = calibrated_gradient(result.f)  # higher = moving mass onto the point increases the distance
```
"""

from __future__ import annotations

from .classwise import (
    ClasswiseOT,
    SinkhornDivergence,
    class_distance_table,
    classwise_divergence,
    classwise_ot,
)
from .costs import ArrayLike, CostMatrix, DenseCost, PointCloudCost
from .duals import c_transform, calibrated_gradient, group_calibrated_gradient
from .reference import exact_ot, sinkhorn_pot
from .sinkhorn import DEFAULT_MAX_DENSE_ENTRIES, IterationMode, OTMode, OTResult, resolve_eps, sinkhorn

__all__ = [
    "DEFAULT_MAX_DENSE_ENTRIES",
    "ArrayLike",
    "ClasswiseOT",
    "CostMatrix",
    "DenseCost",
    "IterationMode",
    "OTMode",
    "OTResult",
    "PointCloudCost",
    "SinkhornDivergence",
    "c_transform",
    "calibrated_gradient",
    "class_distance_table",
    "classwise_divergence",
    "classwise_ot",
    "exact_ot",
    "group_calibrated_gradient",
    "resolve_eps",
    "sinkhorn",
    "sinkhorn_pot",
]
