"""Reference solvers on POT: exact OT (network simplex) and POT's log-domain Sinkhorn, for cross-checks."""

from __future__ import annotations

import math

import numpy as np
import torch

from .costs import ArrayLike, CostMatrix, DenseCost
from .sinkhorn import OTResult
from .weights import uniform_or

__all__ = ["exact_ot", "sinkhorn_pot"]


def exact_ot(
    cost: CostMatrix | torch.Tensor | np.ndarray, a: ArrayLike | None = None, b: ArrayLike | None = None
) -> OTResult:
    """Unregularised OT by POT's network simplex (`ot.emd`), with the LP duals as potentials.

    For small problems (it materialises the cost); useful as a reference for the entropic solver.
    """
    import ot

    if not isinstance(cost, CostMatrix):
        cost = DenseCost(cost)
    matrix = cost.dense().matrix.detach().cpu().double().numpy()
    n_rows, n_cols = matrix.shape
    a_np = uniform_or(a, n_rows, torch.float64, torch.device("cpu"), "source weights a").numpy()
    b_np = uniform_or(b, n_cols, torch.float64, torch.device("cpu"), "target weights b").numpy()
    plan, log = ot.emd(a_np, b_np, matrix, log=True)
    f = torch.as_tensor(log["u"], dtype=torch.float64)
    g = torch.as_tensor(log["v"], dtype=torch.float64)
    err = float(np.abs(plan.sum(1) - a_np).sum())
    return OTResult(f=f, g=g, value=float(log["cost"]), eps=0.0, n_iter=0, marginal_error=err, converged=True)


def sinkhorn_pot(
    cost: CostMatrix | torch.Tensor | np.ndarray,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    *,
    eps: float = 0.1,
    tol: float = 1e-9,
    max_iter: int = 100_000,
) -> OTResult:
    """POT's log-domain Sinkhorn (`ot.bregman.sinkhorn_log`, torch backend), converted to potentials.

    POT returns log-scalings for plain-entropy regularisation; `eps * (log_u - log a)` is the KL-convention
    potential `f` of [`sinkhorn`] (up to the usual constant shift). A cross-check backend for dense problems.
    """
    import ot

    if not isinstance(cost, CostMatrix):
        cost = DenseCost(cost)
    matrix = cost.dense().matrix
    n_rows, n_cols = matrix.shape
    a_t = uniform_or(a, n_rows, matrix.dtype, matrix.device, "source weights a")
    b_t = uniform_or(b, n_cols, matrix.dtype, matrix.device, "target weights b")
    _, log = ot.bregman.sinkhorn_log(a_t, b_t, matrix, reg=eps, numItermax=max_iter, stopThr=tol, log=True)
    f = eps * (log["log_u"] - a_t.log())
    g = eps * (log["log_v"] - b_t.log())
    value = float((a_t * f).sum() + (b_t * g).sum())
    err_hist = log.get("err", [math.nan])
    err = float(err_hist[-1]) if len(err_hist) else math.nan
    return OTResult(
        f=f, g=g, value=value, eps=eps, n_iter=int(log.get("niter", 0)), marginal_error=err, converged=err <= tol
    )
