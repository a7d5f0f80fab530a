"""GOT-D scores from embeddings: one entropic OT solve, then the pool-side dual potential (specs/gotd.md §3.4-3.6).

Orientation. The target sample is the *source* side (rows, weights `a`, potentials `f`) and the candidate pool
the *target* side of [`~hf_datavalue.core.ot.sinkhorn`] (columns, weights `b`). The pool potential is then the
soft c-transform of the target potentials,

    g_j = -eps * log sum_i a_i exp((f_i - C_ij) / eps),

which is what [`pool_potentials`] computes shard by shard for any pool rows (fitted or new). The solver's
row blocks run over the small target, so each block holds `block x N` costs; the pool-side marginal is exact
after the c-transform and the target-side error is recomputed from the scored potentials, so both marginals
are checked (pitfall 10).

Lower score = moving mass onto the candidate decreases `OT(pool, target)` the most = select first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..core.errors import ConfigError, EmptyDatasetError, NonFiniteError, ShapeMismatchError
from ..core.ot import IterationMode, OTResult, PointCloudCost, c_transform, sinkhorn

__all__ = ["GotdSolve", "gotd_scores", "pool_potentials", "resolve_dtype", "solve_gotd", "top_k"]

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_AUTO_FLOAT64_ENTRIES = 50_000_000


def resolve_dtype(dtype: str, n_target: int, n_pool: int) -> torch.dtype:
    """`"auto"` is float64 up to 5e7 cost entries, float32 above."""
    if dtype == "auto":
        return torch.float64 if n_target * n_pool <= _AUTO_FLOAT64_ENTRIES else torch.float32
    if dtype not in _DTYPES:
        raise ConfigError(f"dtype must be 'auto', 'float32' or 'float64', got {dtype!r}")
    return _DTYPES[dtype]


def _check_pair(pool_x: np.ndarray, target_x: np.ndarray) -> None:
    if target_x.ndim != 2 or len(target_x) == 0:
        raise EmptyDatasetError("the target sample is empty: GOT-D needs at least one target embedding")
    if pool_x.ndim != 2 or len(pool_x) == 0:
        raise EmptyDatasetError("the candidate pool is empty")
    if pool_x.shape[1] != target_x.shape[1]:
        raise ShapeMismatchError(
            f"pool embeddings have dimension {pool_x.shape[1]} but target embeddings have dimension "
            f"{target_x.shape[1]}: pool and target must be embedded with the same model"
        )
    for what, x in (("pool", pool_x), ("target", target_x)):
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise NonFiniteError(
                f"{what} embeddings hold NaN or infinite values in {int(bad.sum())} rows "
                f"(first: row {int(np.flatnonzero(bad)[0])}); drop or re-embed them"
            )


@dataclass
class GotdSolve:
    """The fitted OT problem: what is needed to score any pool row.

    Attributes:
        f (`np.ndarray`): target-side potentials (float64, length n).
        target (`np.ndarray`): the target embeddings the potentials belong to.
        eps (`float`): the absolute epsilon used.
        n_pool (`int`): pool size of the solve (the pool weights are `1 / n_pool`).
        dtype (`str`): arithmetic dtype.
        info (`dict`): OT value, iterations, marginal errors, convergence and timings.
    """

    f: np.ndarray
    target: np.ndarray
    eps: float
    n_pool: int
    dtype: str
    info: dict[str, Any] = field(default_factory=dict)


def solve_gotd(
    pool_x: np.ndarray,
    target_x: np.ndarray,
    *,
    eps: float = 0.02,
    eps_mode: str = "relative",
    tol: float = 1e-3,
    max_iter: int = 2000,
    momentum: float = 1.0,
    mode: str = "auto",
    iteration: IterationMode = "auto",
    dtype: str = "auto",
    block_size: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
) -> tuple[GotdSolve, OTResult]:
    """Solve the entropic OT between the target (source side, uniform) and the pool (uniform).

    Args:
        pool_x (`np.ndarray`): `(N, d)` candidate embeddings.
        target_x (`np.ndarray`): `(n, d)` target embeddings.
        eps, eps_mode, tol, max_iter, momentum, mode, iteration, block_size, seed, progress: passed to
            [`~hf_datavalue.core.ot.sinkhorn`].
        dtype (`str`, *optional*, defaults to `"auto"`): see [`resolve_dtype`].
        device (`str`, *optional*, defaults to `"cpu"`): where the arithmetic runs.

    Returns:
        `(GotdSolve, OTResult)`; `OTResult.g` are the pool potentials of the solver's last iterate.
    """
    pool_x = np.asarray(pool_x)
    target_x = np.asarray(target_x)
    _check_pair(pool_x, target_x)
    tdtype = resolve_dtype(dtype, len(target_x), len(pool_x))
    cost = PointCloudCost(target_x, pool_x, feature_weight=1.0, dtype=tdtype, device=device)
    result = sinkhorn(
        cost,
        eps=eps,
        eps_mode=eps_mode,  # type: ignore[arg-type]
        tol=tol,
        max_iter=max_iter,
        momentum=momentum,
        mode=mode,  # type: ignore[arg-type]
        iteration=iteration,
        block_size=block_size,
        seed=seed,
        progress=progress,
    )
    info = {
        "ot_value": result.value,
        "eps": result.eps,
        "n_iter": result.n_iter,
        "target_marginal_error": result.marginal_error,
        "converged": result.converged,
        "timings": dict(result.timings),
        "n_target": len(target_x),
        "n_pool": len(pool_x),
    }
    solve = GotdSolve(
        f=result.f.detach().cpu().double().numpy(),
        target=target_x,
        eps=result.eps,
        n_pool=len(pool_x),
        dtype=str(tdtype).replace("torch.", ""),
        info=info,
    )
    return solve, result


def pool_potentials(
    solve: GotdSolve, x: np.ndarray, *, device: str = "cpu", block_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Pool-side potentials `g` of rows `x` (the soft c-transform of the target potentials), block by block.

    Returns:
        `(g, row_lse)`: `g` (float64, one per row of `x`), and per target row `log sum_j b_j exp((g_j - C_ij)/eps)`
        over these rows (with `b_j = 1 / solve.n_pool`); summing `exp` of it over all pool shards gives the
        target-side marginal (see [`target_marginal_error`]).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != solve.target.shape[1]:
        raise ShapeMismatchError(
            f"rows to score have shape {tuple(x.shape)} but the target embeddings have dimension "
            f"{solve.target.shape[1]}: embed them with the same model"
        )
    tdtype = _DTYPES[solve.dtype]
    f = torch.as_tensor(solve.f, dtype=tdtype, device=device)
    log_b = -math.log(solve.n_pool)
    out = np.empty(len(x), dtype=np.float64)
    row_lse = torch.full((len(solve.f),), -math.inf, dtype=tdtype, device=device)
    for s in range(0, len(x), block_size):
        cost = PointCloudCost(solve.target, x[s : s + block_size], dtype=tdtype, device=device)
        g, block_lse = c_transform(cost, f, solve.eps, log_b=log_b)
        out[s : s + len(g)] = g.double().cpu().numpy()
        row_lse = torch.logaddexp(row_lse, block_lse)
    return out, row_lse.double().cpu().numpy()


def target_marginal_error(solve: GotdSolve, row_lse: np.ndarray) -> float:
    """L1 error of the target marginal of `(f, g)` given the summed per-row log-sums of [`pool_potentials`]."""
    n = len(solve.f)
    rows = np.exp(solve.f / solve.eps + np.asarray(row_lse) - math.log(n))
    return float(np.abs(rows - 1.0 / n).sum())


def gotd_scores(pool_x: np.ndarray, target_x: np.ndarray, **solver_kwargs: Any) -> tuple[np.ndarray, GotdSolve]:
    """GOT-D scores of in-memory embeddings: `g - mean(g)`, lower = select first.

    Args:
        pool_x (`np.ndarray`): `(N, d)` candidate embeddings.
        target_x (`np.ndarray`): `(n, d)` target embeddings.
        **solver_kwargs: see [`solve_gotd`].

    Returns:
        `(scores, solve)` with `scores` float64 of length N and `solve.info["target_marginal_error"]` measured
        at the returned potentials.

    Usage:

    ```python
    import numpy as np
    from hf_datavalue.gotd.scoring import gotd_scores, top_k

    rng = np.random.default_rng(0)
    pool = np.concatenate([rng.normal(size=(990, 4)), rng.normal(size=(10, 4)) + [6, 0, 0, 0]])
    target = np.concatenate([rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + [6, 0, 0, 0]])
    scores, _ = gotd_scores(pool, target, eps=0.1, eps_mode="absolute")
    best = top_k(scores, 10)  # mostly the rare cluster
    ```
    """
    device = solver_kwargs.get("device", "cpu")
    solve, _ = solve_gotd(pool_x, target_x, **solver_kwargs)
    g, row_lse = pool_potentials(solve, np.asarray(pool_x), device=device)
    solve.info["target_marginal_error"] = target_marginal_error(solve, row_lse)
    solve.info["pool_marginal_error"] = 0.0
    return g - g.mean(), solve


def top_k(scores: np.ndarray, k: int, ids: np.ndarray | None = None) -> np.ndarray:
    """Ids (default: positions) of the `k` lowest finite scores, ties broken by id; no duplicates."""
    scores = np.asarray(scores, dtype=np.float64)
    ids = np.arange(len(scores)) if ids is None else np.asarray(ids)
    if len(ids) != len(scores):
        raise ShapeMismatchError(f"{len(ids)} ids for {len(scores)} scores")
    finite = np.isfinite(scores)
    n_ok = int(finite.sum())
    if not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    if k > n_ok:
        raise ConfigError(f"k={k} is larger than the pool ({n_ok} selectable rows)")
    order = np.lexsort((ids[finite], scores[finite]))
    return ids[finite][order[:k]]
