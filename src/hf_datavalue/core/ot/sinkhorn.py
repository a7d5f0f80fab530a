"""The entropic OT solver: log-domain Sinkhorn with epsilon scaling, over-relaxation and a stabilised kernel.

Conventions (see `specs/lava.md` §2): entropic OT between weighted point clouds `(a, b)` with cost `C`, regularised
by `eps * KL(pi | a x b)`; [`sinkhorn`] returns the dual potentials `f`, `g` in cost units (never POT's scalings).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from ..errors import ConfigError, EmptyDatasetError, SolverError
from .costs import ArrayLike, CostMatrix, DenseCost, _block_rows
from .kernel import StabilisedKernel
from .weights import uniform_or

__all__ = ["DEFAULT_MAX_DENSE_ENTRIES", "IterationMode", "OTMode", "OTResult", "resolve_eps", "sinkhorn"]

logger = logging.getLogger(__name__)

OTMode = Literal["auto", "dense", "online"]
IterationMode = Literal["auto", "log", "kernel"]

# Auto mode keeps the cost dense up to this many entries (2 GB in float32).
DEFAULT_MAX_DENSE_ENTRIES = 500_000_000


@dataclass
class OTResult:
    """The solution of an entropic (or exact) OT problem.

    Attributes:
        f (`torch.Tensor`): source potentials, length N, in cost units.
        g (`torch.Tensor`): target potentials, length M.
        value (`float`): the OT value `<a, f> + <b, g>`.
        eps (`float`): the regularisation actually used (0 for exact OT).
        n_iter (`int`): Sinkhorn iterations (annealing stages included).
        marginal_error (`float`): L1 error of the source marginal at the returned potentials (the target
            marginal is exact after the last half-step).
        converged (`bool`): whether `marginal_error <= tol` was reached.
        timings (`dict`): seconds spent per stage.
        kernel_builds (`int`): how often the stabilised kernel was (re)built (0 for log-domain iterations).
    """

    f: torch.Tensor
    g: torch.Tensor
    value: float
    eps: float
    n_iter: int
    marginal_error: float
    converged: bool
    timings: dict[str, float] = field(default_factory=dict)
    kernel_builds: int = 0


def resolve_eps(
    cost: CostMatrix, eps: float, eps_mode: Literal["absolute", "relative"] = "absolute", seed: int = 0
) -> float:
    """Turn `(eps, eps_mode)` into an absolute epsilon. Relative mode uses `eps * median(C)` (sampled)."""
    if eps <= 0 or not math.isfinite(eps):
        raise ConfigError(f"eps must be a positive finite number, got {eps}")
    if eps_mode == "absolute":
        return float(eps)
    if eps_mode != "relative":
        raise ConfigError(f"eps_mode must be 'absolute' or 'relative', got {eps_mode!r}")
    gen = torch.Generator().manual_seed(seed)
    n_entries = cost.shape[0] * cost.shape[1]
    if n_entries <= 4_000_000:
        median = float(cost.dense().matrix.median())
    else:
        median = float(cost.sample_entries(min(n_entries, 100_000), gen).median())
    if median <= 0:
        raise SolverError("the median cost is zero: relative epsilon is undefined (are all points identical?)")
    return float(eps) * median


def _logsumexp_(buf: torch.Tensor, dim: int) -> torch.Tensor:
    """Log-sum-exp along `dim` that overwrites `buf` (saves the allocations of `torch.logsumexp`)."""
    peak = buf.amax(dim=dim, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    return (buf.sub_(peak).exp_().sum(dim=dim, keepdim=True).log_() + peak).squeeze(dim)


def sinkhorn(
    cost: CostMatrix | torch.Tensor | np.ndarray,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    *,
    eps: float = 0.1,
    eps_mode: Literal["absolute", "relative"] = "absolute",
    tol: float = 1e-6,
    max_iter: int = 10_000,
    anneal: bool = True,
    anneal_factor: float = 0.5,
    mode: OTMode = "auto",
    block_size: int | None = None,
    max_dense_entries: int = DEFAULT_MAX_DENSE_ENTRIES,
    momentum: float = 1.0,
    stage_tol: float = 1e-2,
    stage_max_iter: int = 50,
    stall_iter: int = 100,
    iteration: IterationMode = "auto",
    require_convergence: bool = False,
    seed: int = 0,
    progress: bool = False,
) -> OTResult:
    """Log-domain entropic OT with epsilon annealing; returns dual potentials in cost units.

    Args:
        cost (`CostMatrix` or array): the ground cost; an array is wrapped in [`DenseCost`].
        a (`array`, *optional*): source weights (length N), uniform when omitted.
        b (`array`, *optional*): target weights (length M), uniform when omitted.
        eps (`float`, *optional*, defaults to 0.1): entropic regularisation.
        eps_mode (`str`, *optional*, defaults to `"absolute"`): `"relative"` uses `eps * median(C)`.
        tol (`float`, *optional*, defaults to 1e-6): stop when the L1 error of the source marginal is below it
            (the target marginal is exact after each half-step). Use about 1e-4 in float32.
        max_iter (`int`, *optional*, defaults to 10000): iterations at the final epsilon.
        anneal (`bool`, *optional*, defaults to `True`): start from the cost's scale and multiply epsilon by
            `anneal_factor` each stage down to `eps`, warm-starting the potentials (epsilon scaling).
        mode (`str`, *optional*, defaults to `"auto"`): `"dense"` keeps the cost in memory, `"online"`
            recomputes row blocks each iteration; `"auto"` picks dense when `N * M <= max_dense_entries`.
        block_size (`int`, *optional*): rows per block (default keeps about 16M entries per block).
        momentum (`float`, *optional*, defaults to 1.0): over-relaxation factor in [1, 2); values above 1 often
            cut the iterations of weakly regularised problems.
        stage_tol (`float`, *optional*, defaults to 1e-2): marginal error at which an annealing stage hands over
            to the next (smaller) epsilon.
        stage_max_iter (`int`, *optional*, defaults to 50): iteration cap of each annealing stage.
        stall_iter (`int`, *optional*, defaults to 100): stop when the final stage's error has not improved by 1%
            for this many iterations (the rounding floor of float32), with a warning.
        iteration (`str`, *optional*, defaults to `"auto"`): `"log"` runs every iteration as log-sum-exps over
            the cost; `"kernel"` (dense mode only) iterates on a stabilised kernel with matrix-vector products,
            re-absorbing the potentials when the scalings drift; `"auto"` uses the kernel in dense mode. Both
            reach the same potentials; the kernel holds a second N x M buffer.
        require_convergence (`bool`, *optional*, defaults to `False`): raise [`SolverError`] instead of
            warning when `tol` is not reached.
        seed (`int`, *optional*, defaults to 0): seeds the cost sampling of relative epsilon.
        progress (`bool`, *optional*, defaults to `False`): show a tqdm bar over iterations.

    Returns:
        [`OTResult`]
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if not isinstance(cost, CostMatrix):
        cost = DenseCost(cost)
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        raise EmptyDatasetError("optimal transport needs at least one point on each side")
    if mode not in ("auto", "dense", "online"):
        raise ConfigError(f"mode must be 'auto', 'dense' or 'online', got {mode!r}")
    if not 1.0 <= momentum < 2.0:
        raise ConfigError(f"momentum must lie in [1, 2), got {momentum}")
    if not 0 < anneal_factor < 1:
        raise ConfigError(f"anneal_factor must lie in (0, 1), got {anneal_factor}")
    if iteration not in ("auto", "log", "kernel"):
        raise ConfigError(f"iteration must be 'auto', 'log' or 'kernel', got {iteration!r}")
    use_dense = mode == "dense" or (mode == "auto" and n_rows * n_cols <= max_dense_entries)
    if iteration == "kernel" and not use_dense:
        raise ConfigError("iteration='kernel' needs the dense cost: use mode='dense' (or 'auto' on a small problem)")
    use_kernel = use_dense and iteration != "log"
    if use_dense and not isinstance(cost, DenseCost):
        cost = cost.dense()
    timings["cost"] = time.perf_counter() - t0

    dtype, device = cost.dtype, cost.device
    a_t = uniform_or(a, n_rows, dtype, device, "source weights a")
    b_t = uniform_or(b, n_cols, dtype, device, "target weights b")
    log_a, log_b = a_t.log(), b_t.log()
    eps_final = resolve_eps(cost, eps, eps_mode, seed)

    schedule: list[float] = []
    if anneal:
        e = max(cost.upper_bound(), eps_final)
        while e > eps_final:
            schedule.append(e)
            e *= anneal_factor
    step = _block_rows(n_rows, n_cols, block_size)
    blocks = [(s, min(s + step, n_rows)) for s in range(0, n_rows, step)]

    f = torch.zeros(n_rows, dtype=dtype, device=device)
    g = torch.zeros(n_cols, dtype=dtype, device=device)

    def half_steps(
        f: torch.Tensor, g: torch.Tensor, e: float, omega: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """One Sinkhorn iteration in one pass over the cost: f from g, then g from the (relaxed) new f.

        Returns the new potentials and the L1 marginal error of the old pair on both sides: row sums of the
        old plan are `a_i exp((f_i - f_new_i) / e)`, column sums `b_j exp((g_j - g_new_j) / e)`, so checking
        convergence costs nothing extra. The last value is the old plan's total mass minus one.
        """
        f_next = torch.empty_like(f)
        acc_max = torch.full_like(g, -math.inf)
        acc_sum = torch.zeros_like(g)
        row_term = g / e + log_b
        err = 0.0
        mass_dev = 0.0
        for s, t in blocks:
            neg = cost.rows(s, t).mul(-1.0 / e)  # -C/e, the one block-sized temporary besides `buf`
            buf = neg + row_term[None, :]
            f_new = -e * _logsumexp_(buf, dim=1)
            row_dev = a_t[s:t] * torch.expm1((f[s:t] - f_new) / e)
            err += float(row_dev.abs().sum())
            mass_dev += float(row_dev.sum())
            if omega != 1.0:
                f_new = f[s:t] + omega * (f_new - f[s:t])
            f_next[s:t] = f_new
            # Column log-sum-exp, merged across blocks with a running max (streaming, numerically stable).
            neg.add_((f_new / e + log_a[s:t])[:, None])
            block_max = neg.amax(dim=0)
            new_max = torch.maximum(acc_max, block_max)
            acc_sum.mul_(torch.exp(acc_max - new_max)).add_(neg.sub_(new_max[None, :]).exp_().sum(dim=0))
            acc_max = new_max
        g_new = -e * (acc_max + acc_sum.log())
        err += float((b_t * torch.expm1((g - g_new) / e)).abs().sum()) if omega != 1.0 else 0.0
        if omega != 1.0:
            g_new = g + omega * (g_new - g)
        return f_next, g_new, err, mass_dev

    kernel = StabilisedKernel(cost.rows(0, n_rows), a_t, b_t, blocks) if use_kernel else None

    def iterate(
        f: torch.Tensor, g: torch.Tensor, e: float, omega: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        if kernel is None:
            return half_steps(f, g, e, omega)
        if not kernel.usable(f, g, e):
            # Warm-started from the coarser stage (plan entries <= min(a_i, b_j)), the exponents stay below about
            # 2 log(min(N, M)): the kernel is built from the current potentials directly.
            kernel.build(f, g, e)
        out = kernel.step(f, g, omega)
        if out is None:
            # Overflow or a whole row/column underflowed: one log-domain iteration re-stabilises (afterwards every
            # column of the kernel sums to 1 under the weights), then the kernel is rebuilt from it.
            f, g, err, mass_dev = half_steps(f, g, e, omega)
            kernel.build(f, g, e)
            return f, g, err, mass_dev
        return out

    t1 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_iter, desc="Sinkhorn", unit="it", leave=False)
    n_iter = 0
    err = math.inf
    converged = False
    best, best_mass_dev = (f, g), 0.0
    omega = momentum
    stalled = False
    # Epsilon scaling: each coarser stage is solved to a loose tolerance (warm start for the next one), the
    # final epsilon to `tol`. This cuts the iterations of weakly regularised problems several times over.
    for stage, e in enumerate([*schedule, eps_final]):
        final = stage == len(schedule)
        stage_tol_e = tol if final else max(stage_tol, tol)
        last_err, rising = math.inf, 0
        floor_err, floor_iter = math.inf, n_iter
        for _ in range(max_iter if final else stage_max_iter):
            f_new, g_new, err, mass_dev = iterate(f, g, e, omega)
            n_iter += 1
            if bar is not None and final:
                bar.update(1)
                bar.set_postfix(err=f"{err:.2e}", refresh=False)
            if not math.isfinite(err):
                raise SolverError(
                    f"Sinkhorn diverged (marginal error {err}) at eps={e:g}; use float64 or a larger eps"
                )
            if final:
                best, best_mass_dev = (f, g), mass_dev
            if err <= stage_tol_e:
                converged = final
                break
            # A float32 solve can stall above `tol` at its rounding floor: stop instead of burning max_iter.
            if final:
                if err < 0.99 * floor_err:
                    floor_err, floor_iter = err, n_iter
                elif n_iter - floor_iter >= stall_iter:
                    hint = (
                        "use float64 for a tighter solution"
                        if dtype != torch.float64
                        else "loosen tol or raise eps (float64 cannot go further at this epsilon)"
                    )
                    logger.warning(
                        "Sinkhorn stalled at marginal error %.2e (tol %.0e) for %d iterations: the precision floor "
                        "of %s; %s",
                        err,
                        tol,
                        stall_iter,
                        str(dtype).replace("torch.", ""),
                        hint,
                    )
                    stalled = True
                    break
            # Over-relaxation can oscillate on some problems: fall back to plain Sinkhorn when the error grows.
            rising = rising + 1 if err > last_err else 0
            last_err = err
            if omega != 1.0 and rising >= 3:
                logger.info("Sinkhorn over-relaxation oscillates (error %.2e); continuing with momentum 1", err)
                omega = 1.0
            f, g = f_new, g_new
        if not final:
            f, g = f_new, g_new
    if bar is not None:
        bar.close()
    f, g = best
    timings["solve"] = time.perf_counter() - t1
    if not (torch.isfinite(f).all() and torch.isfinite(g).all()):
        raise SolverError(f"Sinkhorn produced non-finite potentials at eps={eps_final:g}; try float64")
    if not converged and not stalled:
        msg = (
            f"Sinkhorn did not reach tol={tol:g} in {max_iter} iterations (marginal error {err:.3e}, "
            f"eps={eps_final:g}); raise max_iter, loosen tol or use a larger eps"
        )
        if require_convergence:
            raise SolverError(msg)
        logger.warning(msg)
    # The dual objective <a,f> + <b,g> - eps (mass - 1): stationary at the optimum, so errors are second order.
    value = float((a_t * f).sum() + (b_t * g).sum()) - eps_final * best_mass_dev
    logger.debug("sinkhorn %dx%d eps=%g: %d iterations, error %.2e", n_rows, n_cols, eps_final, n_iter, err)
    return OTResult(
        f=f,
        g=g,
        value=value,
        eps=eps_final,
        n_iter=n_iter,
        marginal_error=err,
        converged=converged,
        timings=timings,
        kernel_builds=kernel.n_builds if kernel is not None else 0,
    )
