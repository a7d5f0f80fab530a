"""What the dual potentials are used for: calibrated gradients (per point and per group) and c-transforms."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import EmptyDatasetError, ShapeMismatchError
from .costs import ArrayLike, CostMatrix
from .weights import uniform_or

__all__ = ["c_transform", "calibrated_gradient", "group_calibrated_gradient"]


def calibrated_gradient(f: ArrayLike) -> np.ndarray:
    """LAVA's calibrated gradient `CG_i = f_i - mean_{j != i} f_j` (float64, sums to zero).

    It is the derivative of the OT value when mass moves onto point i and is removed uniformly from the
    others; a strictly increasing affine map of `f`, so it ranks points exactly as `f` does.
    """
    f64 = np.asarray(f.detach().cpu() if isinstance(f, torch.Tensor) else f, dtype=np.float64)
    n = f64.shape[0]
    if n < 2:
        raise EmptyDatasetError("the calibrated gradient needs at least two points")
    return (n / (n - 1)) * f64 - f64.sum() / (n - 1)


def c_transform(
    cost: CostMatrix,
    f: torch.Tensor,
    eps: float,
    *,
    log_b: float,
    a: ArrayLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target-side potentials of the columns of `cost`, given converged source potentials `f` (a Sinkhorn half-step).

    `g_j = -eps * log sum_i a_i exp((f_i - C_ij) / eps)`: scores new or streamed target points against a fixed
    solution, shard by shard (GOT-D scores its pool this way without holding it in memory).

    Args:
        cost ([`CostMatrix`]): `(N, m)` cost between the N source points and m target columns.
        f (`torch.Tensor`): source potentials (length N) from [`sinkhorn`].
        eps (`float`): the absolute epsilon of that solve.
        log_b (`float`): log weight of each of these columns in the full problem (e.g. `-log(M)`).
        a (`array`, *optional*): source weights, uniform when omitted.

    Returns:
        `(g, row_lse)`: `g` (length m) and, per source row, `log sum_j b_j exp((g_j - C_ij) / eps)` over these
        columns; adding `exp` of it over all shards gives the source marginal (to check convergence).
    """
    matrix = cost.rows(0, cost.shape[0])
    n_rows = cost.shape[0]
    log_a = uniform_or(a, n_rows, matrix.dtype, matrix.device, "source weights a").log()
    f = f.to(device=matrix.device, dtype=matrix.dtype)
    g = -eps * torch.logsumexp((f[:, None] - matrix) / eps + log_a[:, None], dim=0)
    row_lse = torch.logsumexp((g[None, :] - matrix) / eps + log_b, dim=1)
    return g, row_lse


def group_calibrated_gradient(
    f: ArrayLike, groups: ArrayLike, n_groups: int | None = None, weights: ArrayLike | None = None
) -> np.ndarray:
    """Source-level calibrated gradient: `mean_{S_i} f - mean_{rest} f` for every group `i` (float64).

    The derivative of the OT value when mass moves onto group `i` and is taken evenly from the other points
    (Projektor's source gradient; LAVA's [`calibrated_gradient`] is the case of singleton groups). Adding a constant to `f` leaves it unchanged.

    Args:
        f (`array`): potentials, length N.
        groups (`array`): int group id of each point in `[0, n_groups)`.
        n_groups (`int`, *optional*): number of groups; defaults to `max(groups) + 1`.
        weights (`array`, *optional*): non-negative point masses; the means are then mass-weighted.

    Returns:
        `np.ndarray` of length `n_groups`.
    """
    f64 = np.asarray(f.detach().cpu() if isinstance(f, torch.Tensor) else f, dtype=np.float64)
    ids = np.asarray(groups.detach().cpu() if isinstance(groups, torch.Tensor) else groups)
    if f64.ndim != 1 or ids.shape != f64.shape:
        raise ShapeMismatchError(f"f has shape {f64.shape} but groups has shape {ids.shape}: give one group per point")
    if not np.issubdtype(ids.dtype, np.integer) or (len(ids) and ids.min() < 0):
        raise ShapeMismatchError("groups must hold non-negative integer group ids")
    g = int(n_groups if n_groups is not None else (ids.max() + 1 if len(ids) else 0))
    if len(ids) and ids.max() >= g:
        raise ShapeMismatchError(f"group id {int(ids.max())} is out of range for n_groups={g}")
    w = np.ones_like(f64) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != f64.shape or (w < 0).any() or not np.isfinite(w).all():
        raise ShapeMismatchError("weights must be finite, non-negative and have one entry per point")
    mass = np.bincount(ids, weights=w, minlength=g)
    total_mass, total = w.sum(), (w * f64).sum()
    inside = np.bincount(ids, weights=w * f64, minlength=g)
    empty = [i for i in range(g) if mass[i] <= 0 or total_mass - mass[i] <= 0]
    if empty:
        raise EmptyDatasetError(
            f"groups {empty} hold no mass, or all of it: the group gradient needs mass inside and outside each group"
        )
    return inside / mass - (total - inside) / (total_mass - mass)
